// Package middleware holds the broker's Gin middleware: app and admin
// authentication, request ids, the access log with redaction, recovery, body
// limits and rate limits, and Fail, which answers every error with the
// envelope of docs/api.md. Transport is the client side for another Go
// service: an http.RoundTripper that sends a provider SDK's calls through
// the broker's /proxy. It depends on model, store and secrets only.
package middleware
