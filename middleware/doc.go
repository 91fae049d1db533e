// Package middleware holds the broker's Gin middleware: app and admin
// authentication, request ids, the access log with redaction, recovery, body
// limits and rate limits, and Fail, which answers every error with the
// envelope of docs/api.md. It depends on model, store and secrets only. The
// client side for another Go service is package client, not here.
package middleware
