// Package postgres is the Store backend for several replicas on one
// PostgreSQL, on pgx/v5 (pgxpool). It shares its queries with the SQLite
// backend (store/internal/sqlstore) and passes the same conformance suite.
//
// Concurrency: compare-and-swap updates check a version column; the upsert
// locks the account's row (SELECT ... FOR UPDATE) and retries when two
// replicas insert the same new account at once; auth sessions are consumed by
// DELETE ... RETURNING; leases are one conditional upsert; outbox claims use
// FOR UPDATE SKIP LOCKED so replicas take different events.
//
// Migrations run under pg_advisory_lock, so replicas that start together
// apply each one once. Changes to apps and connections send
// pg_notify('broker_changes', '<kind>:<id>') in the same transaction (so a
// rolled-back change is never announced); Watch LISTENs on a connection of
// its own, outside the pool.
package postgres
