// Package store defines the Store interface every storage backend implements:
// apps, app provider clients, connections (credentials only as ciphertext),
// single-use auth sessions, refresh leases and the webhook outbox. Backends
// live in store/sqlite (the embedded default) and store/postgres (scale-out);
// both share one implementation over database/sql (store/internal/sqlstore)
// and store/storetest is the conformance suite both run. A store never sees a
// plaintext token or secret: encryption and hashing happen above it.
//
// Choices every backend keeps (docs/architecture.md, "Storage", has more):
//   - Updates are compare-and-swap on a version column; fn runs outside any
//     transaction and re-runs on the fresh row when its write was stale.
//   - Consuming an auth session, binding it, taking a lease and claiming
//     webhooks are each one conditional statement, so they are atomic under
//     any number of concurrent callers.
//   - Times are stored as Unix nanoseconds UTC (NULL for the zero time), lists
//     as JSON text, ciphertext and hashes as bytes; empty lists and empty byte
//     slices read back as nil.
//   - Migrations are embedded, numbered files recorded in schema_migrations;
//     CheckSchema refuses a database newer than the binary.
//   - PostgreSQL announces app and connection changes with
//     pg_notify('broker_changes', '<kind>:<id>') in the writing transaction
//     (Watcher); SQLite, being one process, needs no such signal.
package store
