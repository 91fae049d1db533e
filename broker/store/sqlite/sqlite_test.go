package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"

	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/broker/store/storetest"
)

func TestOpenCreatesPrivateFileAndMigrates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "dir", "broker.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("db file mode = %v, want 0600", fi.Mode().Perm())
	}
	applied, known, err := s.SchemaVersion(ctx)
	if err != nil || applied != 0 || known < 1 {
		t.Fatalf("before migrate: applied=%d known=%d err=%v", applied, known, err)
	}
	for range 2 { // migrating twice is a no-op
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	applied, known, err = s.SchemaVersion(ctx)
	if err != nil || applied != known {
		t.Fatalf("after migrate: applied=%d known=%d err=%v", applied, known, err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "broker.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Two Stores on one file stand for two processes (serve and a migrate, or a
// misconfigured second replica): immediate transactions and busy_timeout
// must keep single-use consumption and migrations correct across them.
func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "broker.db")
	a, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	for _, s := range []*sqlite.Store{a, b} {
		wg.Go(func() {
			if err := s.Migrate(ctx); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()

	now := time.Now()
	if err := a.CreateApp(ctx, model.App{ID: "app_a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateAuthSession(ctx, model.AuthSession{ID: "ses_1", AppID: "app_a", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	for i := range 50 {
		s := []*sqlite.Store{a, b}[i%2]
		wg.Go(func() {
			_, err := s.ConsumeAuthSession(ctx, "ses_1", now)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, model.ErrNotFound):
				t.Errorf("ConsumeAuthSession: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners, want 1", wins.Load())
	}
}

func TestSchemaTooNewIsRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "broker.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.CheckSchema(ctx, s); err != nil {
		t.Fatalf("CheckSchema on a current schema: %v", err)
	}
	_, known, _ := s.SchemaVersion(ctx)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, known+1); err != nil {
		t.Fatal(err)
	}
	err = store.CheckSchema(ctx, s)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "upgrade the broker") {
		t.Fatalf("CheckSchema = %v, want ErrSchemaTooNew telling to upgrade", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "broker.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
