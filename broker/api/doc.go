// Package api holds the Gin handlers of the broker's HTTP API (docs/api.md):
// admin app management, providers, connect, connections, health, and the
// mounting of the proxy. Handlers validate their input and answer every error
// through middleware.Fail, so the error-to-status table in model is the only
// one.
package api
