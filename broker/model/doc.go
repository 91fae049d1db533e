// Package model holds the broker's domain types (apps, connections, tokens,
// auth sessions, webhook events), their statuses, the sentinel errors every
// layer returns, and the one table that maps an error code to an HTTP status.
// It does no I/O and imports only the standard library, so every other
// package can depend on it.
package model
