// Package zoomtest is the fake of Zoom's OAuth endpoints and /users/me for
// tests: the generic fake of providertest speaking Zoom's wire format (HTTP
// Basic client authentication only, {"reason","error"} errors with
// invalid_request for a dead token, token_type "bearer"). Only tests
// import it.
package zoomtest
