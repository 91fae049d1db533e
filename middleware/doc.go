// Package middleware holds the broker's Gin middleware: app and admin
// authentication, request ids, the access log with redaction, recovery, body
// limits and rate limits, and Fail, which answers every error with the
// envelope of DESIGN.md §2. It depends on model, store and secrets only.
package middleware
