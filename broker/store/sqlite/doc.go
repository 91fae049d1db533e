// Package sqlite is the embedded default Store backend, on modernc.org/sqlite
// (pure Go, no cgo). One file in the data directory, WAL mode.
//
// Atomicity: every write goes through a pool of exactly one connection whose
// transactions begin IMMEDIATE, so writes of this process are serialized and
// a second process on the same file waits (busy_timeout) instead of failing
// mid-transaction. Reads use a separate pool of read-only connections, which
// WAL lets run beside the writer. Single-use consumption and lease
// acquisition are single conditional statements (DELETE ... RETURNING, an
// upsert with a WHERE), and updates are compare-and-swap on a version column,
// so they stay correct even without the single writer.
package sqlite
