package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change, e.g. 0001_init.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads dir of fsys: files named NNNN_name.sql with distinct
// positive numbers. Numbers may have gaps: each change in flight reserves its
// number, and Migrate applies every one the database lacks, so the order in
// which changes land does not matter.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, fmt.Errorf("store: read migration %q: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("store: migrations %q and %q have the same number", ms[i-1].Name, ms[i].Name)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("store: no migrations in %s", dir)
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`

// Migrate applies the pending migrations, each in its own transaction with
// its schema_migrations row, so a crash leaves the schema at a known version.
// The applied version is read inside each transaction: with the dialect's
// lock (PostgreSQL advisory lock) or SQLite's immediate transactions,
// processes that migrate together apply each migration once.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return s.wrap("migrate", err)
	}
	defer conn.Close()
	if s.d.Lock != nil {
		unlock, err := s.d.Lock(ctx, conn)
		if err != nil {
			return s.wrap("migrate: lock", err)
		}
		defer unlock()
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return s.wrap("migrate: create schema_migrations", err)
	}
	var newest int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return s.wrap("migrate: read version", err)
	}
	if newest > s.known() {
		return nil // a newer broker's schema: leave it alone (CheckSchema refuses it)
	}
	for _, m := range s.mig {
		if err := s.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, conn *sql.Conn, m Migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap("migrate: begin", err)
	}
	defer func() { _ = tx.Rollback() }()
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&done); err != nil {
		return s.wrap("migrate: read version", err)
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return s.wrap("migrate: apply "+m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.Version, s.now().UnixNano()); err != nil {
		return s.wrap("migrate: record "+m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return s.wrap("migrate: commit "+m.Name, err)
	}
	return nil
}

// SchemaVersion returns the applied version and the newest this binary
// knows. Applied is the newest version up to which every known migration is
// recorded (0 on an empty database), or the database's newest when that is
// beyond what this binary knows; so applied == known means fully migrated.
func (s *Store) SchemaVersion(ctx context.Context) (applied, known int, err error) {
	known = s.known()
	var exists int
	if err := s.r.QueryRowContext(ctx, s.tableExistsQuery()).Scan(&exists); err != nil {
		return 0, known, s.wrap("schema version", err)
	}
	if exists == 0 {
		return 0, known, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, known, s.wrap("schema version", err)
	}
	defer rows.Close()
	have, newest := map[int]bool{}, 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return 0, known, s.wrap("schema version", err)
		}
		have[v], newest = true, max(newest, v)
	}
	if err := rows.Err(); err != nil {
		return 0, known, s.wrap("schema version", err)
	}
	if newest > known {
		return newest, known, nil
	}
	for _, m := range s.mig {
		if !have[m.Version] {
			break
		}
		applied = m.Version
	}
	return applied, known, nil
}

// known is the newest migration version this binary has.
func (s *Store) known() int {
	if len(s.mig) == 0 {
		return 0
	}
	return s.mig[len(s.mig)-1].Version
}

func (s *Store) tableExistsQuery() string {
	if s.d.Name == "sqlite" {
		return `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	}
	return `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
}
