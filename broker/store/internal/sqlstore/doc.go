// Package sqlstore is the one implementation of store.Store over
// database/sql that both SQL backends share, so SQLite and PostgreSQL cannot
// drift apart. Queries use $N placeholders, which both modernc.org/sqlite and
// pgx accept. What differs between the backends (row locking of the outbox
// claim, error classification, NOTIFY, the migration lock and the DDL) comes
// in through Dialect and the migration files each backend embeds.
package sqlstore
