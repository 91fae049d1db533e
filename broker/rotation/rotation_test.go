package rotation_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/rotation"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/pgtest"
	"github.com/oauthbroker/broker/broker/store/postgres"
	"github.com/oauthbroker/broker/broker/store/sqlite"
)

// backends runs fn against a fresh, migrated store of each backend.
func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	open := map[string]func(t *testing.T) (store.Store, error){
		"sqlite": func(t *testing.T) (store.Store, error) {
			return sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
		},
		"postgres": func(t *testing.T) (store.Store, error) {
			return postgres.Open(t.Context(), pgtest.DSN(t), postgres.Options{MaxConns: 4})
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			st, err := open[name](t)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			fn(t, st)
		})
	}
}

var (
	oldKey = secrets.Key{ID: "e1", Key: bytes.Repeat([]byte{1}, secrets.KeySize)}
	newKey = secrets.Key{ID: "e2", Key: bytes.Repeat([]byte{2}, secrets.KeySize)}
)

func ring(t *testing.T, keys ...secrets.Key) *secrets.KeyRing {
	t.Helper()
	r, err := secrets.NewKeyRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func seal(t *testing.T, r *secrets.KeyRing, pt string, aad []byte) []byte {
	t.Helper()
	ct, err := r.Encrypt([]byte(pt), aad)
	must(t, err, "Encrypt")
	return ct
}

// opened checks ct is under the new key and holds want: only the new key
// is needed to read it.
func opened(t *testing.T, ct, aad []byte, want, what string) {
	t.Helper()
	if id, _ := secrets.KeyID(ct); id != newKey.ID {
		t.Errorf("%s: sealed under %q, want %q", what, id, newKey.ID)
		return
	}
	pt, err := ring(t, newKey).Decrypt(ct, aad)
	if err != nil || string(pt) != want {
		t.Errorf("%s: holds %q (%v), want %q", what, pt, err, want)
	}
}

// seed stores, sealed under the old key, apps with webhook secrets, their
// own clients for a provider, and a connection each.
func seed(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	ctx := t.Context()
	old := ring(t, oldKey)
	for _, id := range ids {
		app := model.App{ID: id, Name: id, CreatedAt: time.Now(), UpdatedAt: time.Now(),
			WebhookSecret:     seal(t, old, "whsec-"+id, model.WebhookSecretAAD(id)),
			WebhookSecretPrev: seal(t, old, "whsec-prev-"+id, model.WebhookSecretAAD(id))}
		must(t, st.CreateApp(ctx, app), "CreateApp")
		must(t, st.PutAppProvider(ctx, model.AppProvider{AppID: id, ProviderID: "google", ClientID: "cid-" + id,
			ClientSecret: seal(t, old, "client-secret-"+id, model.AppProviderAAD(id, "google"))}), "PutAppProvider")
		c := model.Connection{ID: "con_" + id, AppID: id, ProviderID: "google", ScheduleID: "s", AccountID: "acct",
			Status: model.StatusConnected}
		_, _, err := st.UpsertConnectionWithEvent(ctx, c, func(cid string) ([]byte, error) {
			return old.Encrypt([]byte("token-"+id), model.CredentialsAAD(cid))
		}, nil)
		must(t, err, "UpsertConnection")
	}
}

func TestRunReSealsEverySecretUnderThePrimaryKey(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		ids := []string{"app_1", "app_2", "app_3", "app_4", "app_5"}
		seed(t, st, ids...)
		n, err := rotation.Run(ctx, st, ring(t, newKey, oldKey), 2)
		must(t, err, "Run")
		// Each app: its connection, its own client, its webhook secrets.
		if want := 3 * len(ids); n != want {
			t.Errorf("Run re-sealed %d rows, want %d", n, want)
		}
		for _, id := range ids {
			a, err := st.GetApp(ctx, id)
			must(t, err, "GetApp")
			opened(t, a.WebhookSecret, model.WebhookSecretAAD(id), "whsec-"+id, id+" webhook secret")
			opened(t, a.WebhookSecretPrev, model.WebhookSecretAAD(id), "whsec-prev-"+id, id+" previous webhook secret")
			p, err := st.GetAppProvider(ctx, id, "google")
			must(t, err, "GetAppProvider")
			opened(t, p.ClientSecret, model.AppProviderAAD(id, "google"), "client-secret-"+id, id+" client secret")
			if p.ClientID != "cid-"+id {
				t.Errorf("%s client id = %q", id, p.ClientID)
			}
			c, err := st.GetConnectionByID(ctx, "con_"+id)
			must(t, err, "GetConnectionByID")
			opened(t, c.Credentials, model.CredentialsAAD(c.ID), "token-"+id, c.ID+" credentials")
		}
		// A second run finds nothing to do and writes nothing.
		before, err := st.GetApp(ctx, ids[0])
		must(t, err, "GetApp")
		n, err = rotation.Run(ctx, st, ring(t, newKey, oldKey), 2)
		must(t, err, "second Run")
		after, err := st.GetApp(ctx, ids[0])
		must(t, err, "GetApp")
		if n != 0 || after.Version != before.Version {
			t.Errorf("second Run re-sealed %d rows, app version %d → %d; want 0 and unchanged", n, before.Version, after.Version)
		}
	})
}

// interleaved is a real store whose list calls run a write of "another
// replica" after they read a page, so that it lands between the rotation's
// read of a row and its write.
type interleaved struct {
	store.Store
	afterApps, afterProviders, afterConns func()
	listedApps                            func(page []model.App)
}

func (s *interleaved) ListApps(ctx context.Context, after string, limit int) ([]model.App, error) {
	page, err := s.Store.ListApps(ctx, after, limit)
	runOnce(&s.afterApps)
	if f := s.listedApps; f != nil && err == nil {
		s.listedApps = nil
		f(page)
	}
	return page, err
}

func (s *interleaved) ListAppProviders(ctx context.Context, app, prov string, limit int) ([]model.AppProvider, error) {
	page, err := s.Store.ListAppProviders(ctx, app, prov, limit)
	runOnce(&s.afterProviders)
	return page, err
}

func (s *interleaved) ListConnections(ctx context.Context, f store.ConnectionFilter) ([]model.Connection, error) {
	page, err := s.Store.ListConnections(ctx, f)
	runOnce(&s.afterConns)
	return page, err
}

func runOnce(fn *func()) {
	if *fn != nil {
		f := *fn
		*fn = nil
		f()
	}
}

// While the rotation holds a page, an admin replaces one app's own client
// and deletes another's, rotates one app's webhook secret and deletes
// another app, and replicas refresh one connection and disconnect another.
// None of these is lost or undone by the rotation's writes.
func TestConcurrentWritesAreNeitherLostNorUndone(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		seed(t, st, "app_1", "app_2", "app_3")
		keys := ring(t, newKey, oldKey) // what the rolled replicas hold
		s := &interleaved{Store: st}
		s.afterConns = func() {
			_, err := st.UpdateConnection(ctx, "con_app_1", func(c model.Connection) (model.Connection, error) {
				c.Credentials = seal(t, keys, "refreshed-token", model.CredentialsAAD(c.ID))
				return c, nil
			})
			must(t, err, "refresh")
			_, err = st.UpdateConnection(ctx, "con_app_2", func(c model.Connection) (model.Connection, error) {
				c.Status, c.Credentials = model.StatusDisconnected, nil
				return c, nil
			})
			must(t, err, "disconnect")
		}
		s.afterProviders = func() {
			must(t, st.PutAppProvider(ctx, model.AppProvider{AppID: "app_1", ProviderID: "google", ClientID: "cid-admin",
				ClientSecret: seal(t, keys, "client-secret-admin", model.AppProviderAAD("app_1", "google"))}), "admin PUT")
			must(t, st.DeleteAppProvider(ctx, "app_2", "google"), "admin DELETE")
		}
		s.afterApps = func() {
			_, err := st.UpdateApp(ctx, "app_1", func(a model.App) (model.App, error) {
				a.WebhookSecretPrev = a.WebhookSecret
				a.WebhookSecret = seal(t, keys, "whsec-admin", model.WebhookSecretAAD(a.ID))
				return a, nil
			})
			must(t, err, "webhook secret rotation")
			must(t, st.DeleteApp(ctx, "app_2"), "DeleteApp")
		}
		_, err := rotation.Run(ctx, s, keys, 10)
		must(t, err, "Run")

		c1, err := st.GetConnectionByID(ctx, "con_app_1")
		must(t, err, "GetConnectionByID")
		opened(t, c1.Credentials, model.CredentialsAAD(c1.ID), "refreshed-token", "refreshed connection")
		c2, err := st.GetConnectionByID(ctx, "con_app_2")
		must(t, err, "GetConnectionByID")
		if c2.Status != model.StatusDisconnected || c2.Credentials != nil {
			t.Errorf("disconnected connection after rotation: status %s, credentials %d bytes", c2.Status, len(c2.Credentials))
		}
		c3, err := st.GetConnectionByID(ctx, "con_app_3")
		must(t, err, "GetConnectionByID")
		opened(t, c3.Credentials, model.CredentialsAAD(c3.ID), "token-app_3", "untouched connection")

		p1, err := st.GetAppProvider(ctx, "app_1", "google")
		must(t, err, "GetAppProvider")
		if p1.ClientID != "cid-admin" {
			t.Errorf("admin's client id overwritten: %q", p1.ClientID)
		}
		opened(t, p1.ClientSecret, model.AppProviderAAD("app_1", "google"), "client-secret-admin", "admin's client secret")
		if _, err := st.GetAppProvider(ctx, "app_2", "google"); model.CodeOf(err) != model.CodeNotFound {
			t.Errorf("deleted client after rotation: err = %v, want not found", err)
		}
		p3, err := st.GetAppProvider(ctx, "app_3", "google")
		must(t, err, "GetAppProvider")
		opened(t, p3.ClientSecret, model.AppProviderAAD("app_3", "google"), "client-secret-app_3", "untouched client secret")

		a1, err := st.GetApp(ctx, "app_1")
		must(t, err, "GetApp")
		opened(t, a1.WebhookSecret, model.WebhookSecretAAD("app_1"), "whsec-admin", "rotated webhook secret")
		opened(t, a1.WebhookSecretPrev, model.WebhookSecretAAD("app_1"), "whsec-app_1", "webhook secret in its grace")
		if _, err := st.GetApp(ctx, "app_2"); model.CodeOf(err) != model.CodeNotFound {
			t.Errorf("deleted app after rotation: err = %v, want not found", err)
		}
	})
}

// Between two pages, an admin deletes apps the rotation already passed and
// a replica (sealing under the new key) creates one that sorts before the
// rotation's position. An offset would then point past apps never read;
// the cursor does not move with the rows.
func TestAppsCreatedOrDeletedWhilePagingSkipNone(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		var ids []string
		for i := range 6 {
			ids = append(ids, fmt.Sprintf("app_5%d", i))
		}
		seed(t, st, ids...)
		keys := ring(t, newKey, oldKey)
		s := &interleaved{Store: st}
		var passed []string
		s.listedApps = func(page []model.App) {
			for _, a := range page {
				passed = append(passed, a.ID)
				must(t, st.DeleteApp(ctx, a.ID), "DeleteApp")
			}
			must(t, st.CreateApp(ctx, model.App{ID: "app_00", Name: "new", CreatedAt: time.Now(), UpdatedAt: time.Now(),
				WebhookSecret: seal(t, keys, "whsec-new", model.WebhookSecretAAD("app_00"))}), "CreateApp")
		}
		_, err := rotation.Run(ctx, s, keys, 2)
		must(t, err, "Run")
		if len(passed) != 2 {
			t.Fatalf("first page held %v", passed)
		}
		for _, id := range ids[2:] {
			a, err := st.GetApp(ctx, id)
			must(t, err, "GetApp")
			opened(t, a.WebhookSecret, model.WebhookSecretAAD(id), "whsec-"+id, id+" webhook secret")
		}
	})
}
