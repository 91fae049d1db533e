package sqlstore_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/store/internal/sqlstore"
	"github.com/oauthbroker/broker/broker/store/pgtest"
	"github.com/oauthbroker/broker/broker/store/postgres"
	"github.com/oauthbroker/broker/broker/store/sqlite"
)

// Finding an account's previous connection (every connect does) reads the
// unique index of the account key on both backends, never a scan of the
// app's connections: with 5,000 connections on one schedule (analyzed) the
// planner picks connections_account, not the app and schedule index.
func TestFindConnectionUsesTheAccountIndex(t *testing.T) {
	args := []any{"app_a", "google", "sched", "acct_42"}
	const rows = 5000
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "broker.db")
		st, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		plan := explain(t, "sqlite", "file:"+path, fmt.Sprintf(`
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO connections (id, app_id, provider_id, schedule_id, account_id, status, created_at, updated_at, version)
			SELECT 'con_' || i, 'app_a', 'google', 'sched', 'acct_' || i, 'CONNECTED', 0, 0, 1 FROM n;
			ANALYZE`, rows), "EXPLAIN QUERY PLAN ", args)
		if !strings.Contains(plan, "USING INDEX connections_account") {
			t.Fatalf("plan does not use connections_account:\n%s", plan)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		st, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		plan := explain(t, "pgx", dsn, fmt.Sprintf(`
			INSERT INTO connections (id, app_id, provider_id, schedule_id, account_id, status, created_at, updated_at, version)
			SELECT 'con_' || i, 'app_a', 'google', 'sched', 'acct_' || i, 'CONNECTED', 0, 0, 1 FROM generate_series(1, %d) i;
			ANALYZE connections`, rows), "EXPLAIN ", args)
		if !strings.Contains(plan, "connections_account") {
			t.Fatalf("plan does not use connections_account:\n%s", plan)
		}
	})
}

// explain runs setup, then returns the plan of FindConnection's statement.
func explain(t *testing.T, driver, dsn, setup, prefix string, args []any) string {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), setup); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(t.Context(), prefix+sqlstore.FindConnectionQuery, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&out, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
