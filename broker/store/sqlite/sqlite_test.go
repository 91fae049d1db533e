package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
