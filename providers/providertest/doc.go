// Package providertest runs fakes of OAuth 2.0 providers for tests: real
// httptest servers on loopback with an auto-approving authorize endpoint, a
// token endpoint that checks client authentication, PKCE and redirect URIs,
// revocation, user info, and an echo API behind the token for proxy tests.
// Counters and switches let a test see and steer what the provider does.
//
// The fake itself speaks plain RFC 6749 (Standard). A provider's own wire
// format is a Wire kept in its room's test package (googletest,
// microsofttest, zoomtest, calcomtest), so this package switches on no
// provider. It owns nothing the broker ships; only tests import it.
package providertest
