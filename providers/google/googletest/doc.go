// Package googletest is the fake of Google's OAuth 2.0 endpoints for tests:
// the generic fake of providertest speaking Google's wire format (a refresh
// token only on first consent or prompt=consent, redirect_uri_mismatch,
// Google's 401 body, 400 invalid_token when revoking a dead token). Only
// tests import it.
package googletest
