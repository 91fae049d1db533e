package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

var connectionTests = []test{
	{"UpsertCreates", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		c := newConn("con_1", "app_a", "sched", "acct")
		got, created, err := s.UpsertConnectionWithEvent(t.Context(), c, seal, nil)
		must(t, err, "UpsertConnection")
		if !created {
			t.Error("created = false for a new account")
		}
		sealedFor(t, got, "con_1")
		c.Credentials, c.Version = got.Credentials, 1
		equal(t, got, c, "returned connection")
		read, err := s.GetConnection(t.Context(), "app_a", "con_1")
		must(t, err, "GetConnection")
		equal(t, read, c, "stored connection")
	}},
	{"UpsertSameAccountKeepsIDAndReconnects", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		first := upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		_, err := s.UpdateConnection(ctx, first.ID, func(c model.Connection) (model.Connection, error) {
			c.Status, c.Credentials, c.LastError = model.StatusNeedsReauth, nil, "invalid_grant"
			return c, nil
		})
		must(t, err, "UpdateConnection")

		again := newConn("con_new", "app_a", "sched", "acct")
		again.AccountName, again.Scopes, again.CreatedAt = "Ann Renamed", []string{"calendar.read"}, base.Add(time.Hour)
		var sealedWith string
		got, created, err := s.UpsertConnectionWithEvent(ctx, again, func(id string) ([]byte, error) {
			sealedWith = id
			return seal(id)
		}, nil)
		must(t, err, "UpsertConnection")
		if created {
			t.Error("created = true for an account already connected")
		}
		if got.ID != "con_1" || sealedWith != "con_1" {
			t.Fatalf("id = %s, sealed with %s; want the existing con_1 for both", got.ID, sealedWith)
		}
		sealedFor(t, got, "con_1")
		if got.Status != model.StatusConnected || got.LastError != "" || got.AccountName != "Ann Renamed" ||
			!got.CreatedAt.Equal(base) || got.Version != 3 || len(got.Scopes) != 1 {
			t.Fatalf("reconnected connection = %+v", got)
		}
		read, err := s.GetConnectionByID(ctx, "con_1")
		must(t, err, "GetConnectionByID")
		equal(t, read, got, "stored connection")
		_, err = s.GetConnectionByID(ctx, "con_new")
		wantErr(t, err, model.ErrNotFound, "the unused new id")
	}},
	{"CalendarSelectionIsStoredAndSurvivesReconnect", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		first := upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		if len(first.Calendars) != 0 {
			t.Fatalf("new connection calendars = %v, want none (the primary one)", first.Calendars)
		}
		_, err := s.UpdateConnection(ctx, first.ID, func(c model.Connection) (model.Connection, error) {
			c.Calendars = []string{"work@example.com", "cal/2"}
			c.Status, c.Credentials = model.StatusNeedsReauth, nil
			return c, nil
		})
		must(t, err, "UpdateConnection")
		read, err := s.GetConnection(ctx, "app_a", "con_1")
		must(t, err, "GetConnection")
		if !slices.Equal(read.Calendars, []string{"work@example.com", "cal/2"}) {
			t.Fatalf("stored calendars = %v", read.Calendars)
		}
		// The reconnect carries no selection of its own: the stored one stays.
		got, created, err := s.UpsertConnectionWithEvent(ctx, newConn("con_new", "app_a", "sched", "acct"), seal, nil)
		must(t, err, "UpsertConnection")
		if created || got.ID != "con_1" {
			t.Fatalf("reconnect created=%v id=%s", created, got.ID)
		}
		read, err = s.GetConnectionByID(ctx, "con_1")
		must(t, err, "GetConnectionByID")
		if !slices.Equal(read.Calendars, []string{"work@example.com", "cal/2"}) || !slices.Equal(got.Calendars, read.Calendars) {
			t.Fatalf("calendars after reconnect = %v (returned %v), want the selection kept", read.Calendars, got.Calendars)
		}
	}},
	{"UpsertOtherScheduleOrAccountCreates", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		for _, c := range []model.Connection{
			newConn("con_2", "app_a", "sched2", "acct"),
			newConn("con_3", "app_a", "sched", "acct2"),
		} {
			got, created, err := s.UpsertConnectionWithEvent(t.Context(), c, seal, nil)
			must(t, err, "UpsertConnection")
			if !created || got.ID != c.ID {
				t.Errorf("upsert %s: created %v id %s", c.ID, created, got.ID)
			}
		}
	}},
	{"UpsertSealErrorWritesNothing", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		boom := errors.New("no key")
		_, _, err := s.UpsertConnectionWithEvent(t.Context(), newConn("con_1", "app_a", "sched", "acct"),
			func(string) ([]byte, error) { return nil, boom }, nil)
		wantErr(t, err, boom, "UpsertConnection")
		_, err = s.GetConnectionByID(t.Context(), "con_1")
		wantErr(t, err, model.ErrNotFound, "GetConnectionByID")
	}},
	{"UpsertTakenIDIsConflict", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		_, _, err := s.UpsertConnectionWithEvent(t.Context(), newConn("con_1", "app_a", "sched", "other"), seal, nil)
		wantErr(t, err, model.ErrConflict, "UpsertConnection with a taken id")
	}},
	{"GetIsScopedToApp", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		createApp(t, s, "app_b")
		upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		_, err := s.GetConnection(ctx, "app_b", "con_1")
		wantErr(t, err, model.ErrNotFound, "GetConnection by another app")
		_, err = s.GetConnection(ctx, "app_a", "con_missing")
		wantErr(t, err, model.ErrNotFound, "GetConnection of a missing id")
		_, err = s.GetConnectionByID(ctx, "con_missing")
		wantErr(t, err, model.ErrNotFound, "GetConnectionByID of a missing id")
	}},
	{"FindByAccount", testFindConnection},
	{"List", testListConnections},
	{"Update", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		c := upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		later := base.Add(2 * time.Hour)
		got, err := s.UpdateConnection(ctx, c.ID, func(c model.Connection) (model.Connection, error) {
			c.Credentials, c.TokenExpiry, c.LastRefreshedAt = []byte("rotated"), later.Add(time.Hour), later
			c.AppID, c.ID = "app_b", "con_2" // owned by the store
			return c, nil
		})
		must(t, err, "UpdateConnection")
		read, err := s.GetConnection(ctx, "app_a", "con_1")
		must(t, err, "GetConnection")
		equal(t, read, got, "stored vs returned")
		if string(got.Credentials) != "rotated" || !got.TokenExpiry.Equal(later.Add(time.Hour)) ||
			got.Version != c.Version+1 || got.AppID != "app_a" || got.ID != "con_1" {
			t.Fatalf("updated connection = %+v", got)
		}
	}},
	{"UpdateFnErrorWritesNothing", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		want := upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		boom := errors.New("boom")
		_, err := s.UpdateConnection(t.Context(), "con_1", func(c model.Connection) (model.Connection, error) {
			c.Status = model.StatusDisconnected
			return c, boom
		})
		wantErr(t, err, boom, "UpdateConnection")
		got, err := s.GetConnectionByID(t.Context(), "con_1")
		must(t, err, "GetConnectionByID")
		equal(t, got, want, "connection after aborted update")
	}},
	{"UpdateMissingIsNotFound", func(t *testing.T, s store.Store) {
		_, err := s.UpdateConnection(t.Context(), "con_missing", func(c model.Connection) (model.Connection, error) { return c, nil })
		wantErr(t, err, model.ErrNotFound, "UpdateConnection")
	}},
	{"StaleUpdateIsRetriedNotLost", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
		calls := 0
		got, err := s.UpdateConnection(t.Context(), "con_1", func(c model.Connection) (model.Connection, error) {
			calls++
			if calls == 1 {
				_, err := s.UpdateConnection(t.Context(), "con_1", func(d model.Connection) (model.Connection, error) {
					d.Credentials = []byte("refreshed elsewhere")
					return d, nil
				})
				must(t, err, "inner UpdateConnection")
			}
			c.LastUsedAt = base.Add(time.Hour)
			return c, nil
		})
		must(t, err, "UpdateConnection")
		if calls != 2 || string(got.Credentials) != "refreshed elsewhere" || !got.LastUsedAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("calls %d, credentials %q, lastUsedAt %v: a change was lost", calls, got.Credentials, got.LastUsedAt)
		}
	}},
	{"ConcurrentUpdatesAllApply", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		c := newConn("con_1", "app_a", "sched", "acct")
		c.Scopes = nil
		upsert(t, s, c)
		const writers = 5
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Go(func() {
				_, err := s.UpdateConnection(t.Context(), "con_1", func(c model.Connection) (model.Connection, error) {
					c.Scopes = append(c.Scopes, fmt.Sprintf("s%d", i))
					return c, nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err, "concurrent UpdateConnection")
		}
		got, err := s.GetConnectionByID(t.Context(), "con_1")
		must(t, err, "GetConnectionByID")
		slices.Sort(got.Scopes)
		equal(t, got.Scopes, []string{"s0", "s1", "s2", "s3", "s4"}, "scopes after concurrent updates")
		if got.Version != 1+writers {
			t.Errorf("version = %d, want %d", got.Version, 1+writers)
		}
	}},
}

func testListConnections(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, "app_a")
	createApp(t, s, "app_b")
	mk := func(id, app, sched, provider string, status model.ConnectionStatus, expiry, used time.Time) {
		c := newConn(id, app, sched, "acct_"+id)
		c.ProviderID, c.Status, c.TokenExpiry, c.LastUsedAt = provider, status, expiry, used
		upsert(t, s, c)
	}
	h := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
	mk("con_07", "app_a", "s1", "google", model.StatusConnected, h(1), h(0))
	mk("con_03", "app_a", "s1", "zoom", model.StatusConnected, h(5), h(3))
	mk("con_05", "app_a", "s2", "google", model.StatusNeedsReauth, h(2), time.Time{})
	mk("con_01", "app_a", "s3", "google", model.StatusConnected, time.Time{}, h(1))
	mk("con_04", "app_b", "s1", "google", model.StatusConnected, h(1), h(0))
	mk("con_02", "app_a", "s2", "zoom", model.StatusDisconnected, time.Time{}, h(2))
	mk("con_06", "app_a", "s1", "google", model.StatusConnected, h(3), h(4))

	ids := func(cs []model.Connection) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	cases := []struct {
		name string
		f    store.ConnectionFilter
		want []string
	}{
		{"app", store.ConnectionFilter{AppID: "app_a"}, []string{"con_01", "con_02", "con_03", "con_05", "con_06", "con_07"}},
		{"every app", store.ConnectionFilter{}, []string{"con_01", "con_02", "con_03", "con_04", "con_05", "con_06", "con_07"}},
		{"schedules", store.ConnectionFilter{AppID: "app_a", ScheduleIDs: []string{"s2", "s3"}}, []string{"con_01", "con_02", "con_05"}},
		{"provider", store.ConnectionFilter{AppID: "app_a", ProviderID: "zoom"}, []string{"con_02", "con_03"}},
		{"status", store.ConnectionFilter{AppID: "app_a", Status: model.StatusConnected}, []string{"con_01", "con_03", "con_06", "con_07"}},
		{"combined", store.ConnectionFilter{AppID: "app_a", ScheduleIDs: []string{"s1"}, ProviderID: "google", Status: model.StatusConnected}, []string{"con_06", "con_07"}},
		{"after cursor", store.ConnectionFilter{AppID: "app_a", After: "con_03"}, []string{"con_05", "con_06", "con_07"}},
		{"limit", store.ConnectionFilter{AppID: "app_a", Limit: 2}, []string{"con_01", "con_02"}},
		{"other app's schedule", store.ConnectionFilter{AppID: "app_b", ScheduleIDs: []string{"s2"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := s.ListConnections(ctx, tc.f)
			must(t, err, "ListConnections")
			equal(t, ids(cs), tc.want, "ids")
		})
	}
	t.Run("cursor paging visits each once", func(t *testing.T) {
		var got []string
		f := store.ConnectionFilter{AppID: "app_a", Limit: 4}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			cs, err := s.ListConnections(ctx, f)
			must(t, err, "ListConnections")
			if len(cs) == 0 {
				break
			}
			got = append(got, ids(cs)...)
			f.After = cs[len(cs)-1].ID
		}
		equal(t, got, []string{"con_01", "con_02", "con_03", "con_05", "con_06", "con_07"}, "paged ids")
	})
}

// FindConnection answers exactly the connection an upsert of the same key
// would update: every part of the key counts, the empty schedule included.
func testFindConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, "app_a")
	createApp(t, s, "app_b")
	zoom := newConn("con_4", "app_a", "s1", "acct")
	zoom.ProviderID = "zoom"
	var stored []model.Connection
	for _, c := range []model.Connection{
		newConn("con_1", "app_a", "s1", "acct"),
		newConn("con_2", "app_a", "s2", "acct"),
		newConn("con_3", "app_a", "", "acct"),
		zoom,
		newConn("con_5", "app_b", "s1", "acct"),
		newConn("con_6", "app_a", "s1", "acct2"),
	} {
		stored = append(stored, upsert(t, s, c))
	}
	for _, want := range stored {
		got, err := s.FindConnection(ctx, store.KeyOf(want))
		must(t, err, "FindConnection "+want.ID)
		equal(t, got, want, "FindConnection "+want.ID)
	}
	for _, k := range []store.AccountKey{
		{AppID: "app_a", ProviderID: "google", ScheduleID: "s1", AccountID: "acct3"},
		{AppID: "app_a", ProviderID: "google", ScheduleID: "s3", AccountID: "acct"},
		{AppID: "app_b", ProviderID: "zoom", ScheduleID: "s1", AccountID: "acct"},
		{AppID: "app_c", ProviderID: "google", ScheduleID: "s1", AccountID: "acct"},
	} {
		_, err := s.FindConnection(ctx, k)
		wantErr(t, err, model.ErrNotFound, fmt.Sprintf("FindConnection %+v", k))
	}
	// A reconnect updates the connection found, in place.
	again := newConn("con_new", "app_a", "s1", "acct")
	again.AccountName = "renamed"
	up, created, err := s.UpsertConnectionWithEvent(ctx, again, seal, nil)
	must(t, err, "UpsertConnection")
	found, err := s.FindConnection(ctx, store.KeyOf(again))
	must(t, err, "FindConnection after reconnect")
	if created || found.ID != "con_1" || found.AccountName != "renamed" {
		t.Fatalf("after reconnect: created %v, found %s named %q", created, found.ID, found.AccountName)
	}
	equal(t, found, up, "found vs upserted")
}
