package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/pgtest"
	"github.com/oauthbroker/broker/broker/store/postgres"
	"github.com/oauthbroker/broker/broker/store/storetest"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func migrated(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s := open(t, dsn)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t)) })
}

func TestMigrateRaceAppliesOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	const replicas = 5
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		stores[i] = open(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			errs[i] = s.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Migrate: %v", i, err)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, distinct int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	applied, known, err := stores[0].SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if rows != len(files) || distinct != len(files) || applied != known {
		t.Errorf("schema_migrations has %d rows (%d distinct) and version %d, want each of the %d migrations once (version %d)",
			rows, distinct, applied, len(files), known)
	}
}

func TestSchemaTooNewIsRefused(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := migrated(t, dsn)
	if err := store.CheckSchema(t.Context(), s); err != nil {
		t.Fatalf("CheckSchema on a current schema: %v", err)
	}
	_, known, _ := s.SchemaVersion(t.Context())
	// A newer broker migrated this database.
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, known+1); err != nil {
		t.Fatal(err)
	}
	err = store.CheckSchema(t.Context(), s)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "upgrade the broker") {
		t.Fatalf("CheckSchema = %v, want ErrSchemaTooNew telling to upgrade", err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate on a newer schema must leave it alone, got %v", err)
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", postgres.Options{MaxConns: 1})
	if !errors.Is(err, model.ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
}

// watcher collects what Watch reports.
type watcher struct {
	mu      sync.Mutex
	changes []store.Change
	signal  chan struct{}
}

func watch(t *testing.T, s *postgres.Store) *watcher {
	w := &watcher{signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(c store.Change) {
			w.mu.Lock()
			w.changes = append(w.changes, c)
			w.mu.Unlock()
			select {
			case w.signal <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v after cancel", err)
		}
	})
	return w
}

// waitFor waits until pred holds on the changes seen so far; the deadline
// only bounds a broken test, it asserts nothing about speed.
func (w *watcher) waitFor(t *testing.T, what string, pred func([]store.Change) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		ok := pred(w.changes)
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-w.signal:
		case <-deadline:
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("never saw %s; saw %v", what, w.changes)
		}
	}
}

func count(cs []store.Change, want store.Change) int {
	n := 0
	for _, c := range cs {
		if c == want {
			n++
		}
	}
	return n
}

func TestWatchSeesOtherReplicasChanges(t *testing.T) {
	dsn := pgtest.DSN(t)
	writer, reader := migrated(t, dsn), open(t, dsn)
	w := watch(t, reader)
	w.waitFor(t, "the initial resync", func(cs []store.Change) bool { return count(cs, store.Change{}) == 1 })

	ctx := t.Context()
	app := model.App{ID: "app_a", Name: "a"}
	if err := writer.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	c := model.Connection{ID: "con_1", AppID: "app_a", ProviderID: "google", ScheduleID: "s", AccountID: "x", Status: model.StatusConnected}
	seal := func(id string) ([]byte, error) { return []byte(id), nil }
	steps := []struct {
		name string
		do   func() error
		want store.Change
	}{
		{"upsert", func() error { _, _, err := writer.UpsertConnectionWithEvent(ctx, c, seal, nil); return err },
			store.Change{Kind: store.ChangeConnection, ID: "con_1"}},
		{"update connection", func() error {
			_, err := writer.UpdateConnection(ctx, "con_1", func(c model.Connection) (model.Connection, error) {
				c.Status = model.StatusDisconnected
				return c, nil
			})
			return err
		}, store.Change{Kind: store.ChangeConnection, ID: "con_1"}},
		{"update app", func() error {
			_, err := writer.UpdateApp(ctx, "app_a", func(a model.App) (model.App, error) { a.Name = "b"; return a, nil })
			return err
		}, store.Change{Kind: store.ChangeApp, ID: "app_a"}},
		{"delete app", func() error { return writer.DeleteApp(ctx, "app_a") }, store.Change{Kind: store.ChangeApp, ID: "app_a"}},
	}
	for _, st := range steps {
		w.mu.Lock()
		before := count(w.changes, st.want)
		w.mu.Unlock()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		w.waitFor(t, st.name+" → "+string(st.want.Kind)+":"+st.want.ID, func(cs []store.Change) bool {
			return count(cs, st.want) > before
		})
	}

	// A rolled-back change is not announced. Notifications arrive in commit
	// order, so once the later app change is seen, an announcement of the
	// aborted update would have been seen too.
	if err := writer.CreateApp(ctx, model.App{ID: "app_b", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := writer.UpsertConnectionWithEvent(ctx, model.Connection{ID: "con_2", AppID: "app_b", ProviderID: "google",
		ScheduleID: "s", AccountID: "y", Status: model.StatusConnected}, seal, nil); err != nil {
		t.Fatal(err)
	}
	con2 := store.Change{Kind: store.ChangeConnection, ID: "con_2"}
	w.waitFor(t, "the upsert of con_2", func(cs []store.Change) bool { return count(cs, con2) == 1 })
	abort := errors.New("abort")
	if _, err := writer.UpdateConnection(ctx, "con_2", func(c model.Connection) (model.Connection, error) { return c, abort }); !errors.Is(err, abort) {
		t.Fatalf("aborted update: %v", err)
	}
	if _, err := writer.UpdateApp(ctx, "app_b", func(a model.App) (model.App, error) { return a, nil }); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "the update of app_b", func(cs []store.Change) bool {
		return count(cs, store.Change{Kind: store.ChangeApp, ID: "app_b"}) == 1
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := count(w.changes, con2); n != 1 {
		t.Errorf("con_2 announced %d times, want once (the aborted update must not be announced)", n)
	}
}

func TestWatchResyncsAfterReconnect(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := migrated(t, dsn)
	w := watch(t, s)
	w.waitFor(t, "the initial resync", func(cs []store.Change) bool { return count(cs, store.Change{}) == 1 })

	// Cut the listening connection, as a failover or a network blip would.
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(t.Context(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'broker-watch' AND datname = current_database()`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening sessions, want 1", killed)
	}
	w.waitFor(t, "a resync after the reconnect", func(cs []store.Change) bool { return count(cs, store.Change{}) == 2 })

	// And it listens again.
	if err := s.CreateApp(t.Context(), model.App{ID: "app_a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateApp(t.Context(), "app_a", func(a model.App) (model.App, error) { return a, nil }); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, "a change after the reconnect", func(cs []store.Change) bool {
		return count(cs, store.Change{Kind: store.ChangeApp, ID: "app_a"}) == 1
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		s, err := postgres.Open(b.Context(), pgtest.DSN(b), postgres.Options{MaxConns: 10})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	})
}
