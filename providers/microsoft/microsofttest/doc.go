// Package microsofttest is the fake of the Microsoft identity platform and
// Graph for tests: the generic fake of providertest speaking Microsoft's
// wire format (AADSTS codes in error descriptions and error_codes,
// ext_expires_in, Graph's user object, no revocation endpoint), and
// Calendar, Graph's calendar read API. Only tests import it.
package microsofttest
