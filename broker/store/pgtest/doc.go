// Package pgtest gives tests a fresh PostgreSQL database of their own on the
// server named by BROKER_TEST_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). Without a
// reachable server a test is skipped, except in CI (CI=true), where a
// backend test that silently skipped would hide a broken backend: there it
// fails.
package pgtest
