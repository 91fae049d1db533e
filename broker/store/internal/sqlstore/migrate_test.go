package sqlstore

import (
	"database/sql"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"
)

// Changes in flight reserve migration numbers (0002 calendars, 0003 webhook
// delivery): whichever lands first, a database ends with every migration
// applied once.
func TestMigrationsApplyInAnyLandingOrder(t *testing.T) {
	files := map[string]string{
		"m/0001_init.sql": `CREATE TABLE one (id TEXT);`,
		"m/0002_b.sql":    `CREATE TABLE two (id TEXT);`,
		"m/0003_c.sql":    `CREATE TABLE three (id TEXT);`,
	}
	load := func(names ...string) []Migration {
		fsys := fstest.MapFS{}
		for _, n := range names {
			fsys[n] = &fstest.MapFile{Data: []byte(files[n])}
		}
		ms, err := LoadMigrations(fsys, "m")
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	for _, tc := range []struct {
		name          string
		first, second []string
	}{
		{"3 lands before 2", []string{"m/0001_init.sql", "m/0003_c.sql"}, []string{"m/0001_init.sql", "m/0002_b.sql", "m/0003_c.sql"}},
		{"2 lands before 3", []string{"m/0001_init.sql", "m/0002_b.sql"}, []string{"m/0001_init.sql", "m/0002_b.sql", "m/0003_c.sql"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open("sqlite", "file:"+t.TempDir()+"/m.db")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			d := Dialect{Name: "sqlite"}
			for step, names := range [][]string{tc.first, tc.second, tc.second} {
				ms := load(names...)
				s := New(db, db, d, ms, nil)
				if err := s.Migrate(t.Context()); err != nil {
					t.Fatalf("step %d: Migrate: %v", step, err)
				}
				applied, known, err := s.SchemaVersion(t.Context())
				if err != nil || applied != known || known != ms[len(ms)-1].Version {
					t.Fatalf("step %d: SchemaVersion = %d, %d, %v; want fully migrated", step, applied, known, err)
				}
			}
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != 3 {
				t.Fatalf("schema_migrations rows = %d, %v; want 3", n, err)
			}
			for _, table := range []string{"one", "two", "three"} {
				if _, err := db.Exec(`SELECT COUNT(*) FROM ` + table); err != nil {
					t.Errorf("table %s: %v", table, err)
				}
			}
		})
	}
}

// A database missing a migration below the newest applied one is not
// reported ready: SchemaVersion stops at the gap.
func TestSchemaVersionStopsAtAMissingMigration(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+t.TempDir()+"/m.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms := []Migration{{Version: 1, Name: "0001_a.sql", SQL: "SELECT 1"}, {Version: 2, Name: "0002_b.sql", SQL: "SELECT 1"},
		{Version: 3, Name: "0003_c.sql", SQL: "SELECT 1"}}
	s := New(db, db, Dialect{Name: "sqlite"}, ms, nil)
	if _, err := db.Exec(createMigrationsTable); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0), (3, 0)`); err != nil {
		t.Fatal(err)
	}
	applied, known, err := s.SchemaVersion(t.Context())
	if err != nil || applied != 1 || known != 3 {
		t.Fatalf("SchemaVersion = %d, %d, %v; want 1, 3", applied, known, err)
	}
}

func TestLoadMigrationsRefusesADuplicateNumber(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("SELECT 1")},
		"m/0001_b.sql": {Data: []byte("SELECT 1")},
	}
	if _, err := LoadMigrations(fsys, "m"); err == nil {
		t.Fatal("two migrations numbered 1 were accepted")
	}
}
