package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

var appTests = []test{
	{"CreateGet", func(t *testing.T, s store.Store) {
		want := createApp(t, s, "app_a")
		got, err := s.GetApp(t.Context(), "app_a")
		must(t, err, "GetApp")
		equal(t, got, want, "GetApp")
	}},
	{"EmptyListsAndSecretsReadBackNil", func(t *testing.T, s store.Store) {
		a := model.App{ID: "app_min", Name: "minimal", CreatedAt: base, UpdatedAt: base}
		must(t, s.CreateApp(t.Context(), a), "CreateApp")
		got, err := s.GetApp(t.Context(), "app_min")
		must(t, err, "GetApp")
		a.Version = 1
		equal(t, got, a, "GetApp")
	}},
	{"CreateDuplicateIsConflict", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		wantErr(t, s.CreateApp(t.Context(), newApp("app_a", "other", base)), model.ErrConflict, "second CreateApp")
	}},
	{"GetMissingIsNotFound", func(t *testing.T, s store.Store) {
		_, err := s.GetApp(t.Context(), "app_missing")
		wantErr(t, err, model.ErrNotFound, "GetApp")
	}},
	{"Query", testQueryApps},
	{"Update", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		later := base.Add(time.Hour)
		got, err := s.UpdateApp(t.Context(), "app_a", func(a model.App) (model.App, error) {
			a.Name, a.Permissions, a.UpdatedAt = "renamed", []model.Permission{model.PermEventsRead}, later
			a.ID, a.CreatedAt, a.Version = "app_hijack", later, 99 // the store owns these
			return a, nil
		})
		must(t, err, "UpdateApp")
		read, err := s.GetApp(t.Context(), "app_a")
		must(t, err, "GetApp")
		equal(t, read, got, "stored app vs returned app")
		if got.ID != "app_a" || got.Name != "renamed" || got.Version != 2 ||
			!got.CreatedAt.Equal(base) || !got.UpdatedAt.Equal(later) ||
			len(got.Permissions) != 1 || got.Permissions[0] != model.PermEventsRead {
			t.Fatalf("updated app = %+v", got)
		}
		_, err = s.GetApp(t.Context(), "app_hijack")
		wantErr(t, err, model.ErrNotFound, "GetApp of the id fn tried to set")
	}},
	{"UpdateFnErrorWritesNothing", func(t *testing.T, s store.Store) {
		want := createApp(t, s, "app_a")
		boom := errors.New("boom")
		_, err := s.UpdateApp(t.Context(), "app_a", func(a model.App) (model.App, error) {
			a.Name = "changed"
			return a, boom
		})
		wantErr(t, err, boom, "UpdateApp")
		got, err := s.GetApp(t.Context(), "app_a")
		must(t, err, "GetApp")
		equal(t, got, want, "app after aborted update")
	}},
	{"UpdateMissingIsNotFound", func(t *testing.T, s store.Store) {
		_, err := s.UpdateApp(t.Context(), "app_missing", func(a model.App) (model.App, error) { return a, nil })
		wantErr(t, err, model.ErrNotFound, "UpdateApp")
	}},
	{"StaleUpdateIsRetriedNotLost", func(t *testing.T, s store.Store) {
		// While the first update's fn runs, a second update commits. The first
		// one's write is then stale: it must be refused and fn re-run on the
		// fresh app, so both changes survive.
		createApp(t, s, "app_a")
		calls := 0
		got, err := s.UpdateApp(t.Context(), "app_a", func(a model.App) (model.App, error) {
			calls++
			if calls == 1 {
				_, err := s.UpdateApp(t.Context(), "app_a", func(b model.App) (model.App, error) {
					b.Description = "from the second writer"
					return b, nil
				})
				must(t, err, "inner UpdateApp")
			}
			a.Name = "from the first writer"
			return a, nil
		})
		must(t, err, "UpdateApp")
		if calls != 2 {
			t.Errorf("fn called %d times, want 2 (once stale, once fresh)", calls)
		}
		if got.Name != "from the first writer" || got.Description != "from the second writer" || got.Version != 3 {
			t.Fatalf("app = name %q, description %q, version %d", got.Name, got.Description, got.Version)
		}
	}},
	{"DeleteDisconnectsConnections", testDeleteApp},
}

func testQueryApps(t *testing.T, s store.Store) {
	ctx := t.Context()
	// ids, names and creation dates in three different orders.
	for i, a := range []struct{ id, name string }{
		{"app_3", "charlie"}, {"app_1", "echo"}, {"app_5", "alpha"}, {"app_2", "delta"}, {"app_4", "bravo"},
	} {
		must(t, s.CreateApp(ctx, newApp(a.id, a.name, base.Add(time.Duration(i)*time.Minute))), "CreateApp")
	}
	ids := func(apps []model.App) []string {
		var out []string
		for _, a := range apps {
			out = append(out, a.ID)
		}
		return out
	}
	cases := []struct {
		name  string
		q     store.AppQuery
		want  []string
		total int
	}{
		{"default id desc", store.AppQuery{}, []string{"app_5", "app_4", "app_3", "app_2", "app_1"}, 5},
		{"id asc", store.AppQuery{SortField: "id"}, []string{"app_1", "app_2", "app_3", "app_4", "app_5"}, 5},
		{"name asc", store.AppQuery{SortField: "name"}, []string{"app_5", "app_4", "app_3", "app_2", "app_1"}, 5},
		{"name desc", store.AppQuery{SortField: "name", SortDesc: true}, []string{"app_1", "app_2", "app_3", "app_4", "app_5"}, 5},
		{"created asc", store.AppQuery{SortField: "createdDate"}, []string{"app_3", "app_1", "app_5", "app_2", "app_4"}, 5},
		{"created desc", store.AppQuery{SortField: "createdDate", SortDesc: true}, []string{"app_4", "app_2", "app_5", "app_1", "app_3"}, 5},
		{"limit", store.AppQuery{Limit: 2}, []string{"app_5", "app_4"}, 5},
		{"limit offset", store.AppQuery{Limit: 2, Offset: 2}, []string{"app_3", "app_2"}, 5},
		{"offset past end", store.AppQuery{Offset: 10}, nil, 5},
		{"filter id", store.AppQuery{ID: "app_2"}, []string{"app_2"}, 1},
		{"filter missing id", store.AppQuery{ID: "app_9"}, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			apps, total, err := s.QueryApps(ctx, tc.q)
			must(t, err, "QueryApps")
			equal(t, ids(apps), tc.want, "ids")
			if total != tc.total {
				t.Errorf("total = %d, want %d", total, tc.total)
			}
		})
	}
	t.Run("default limit is 50", func(t *testing.T) {
		for i := range 55 {
			must(t, s.CreateApp(ctx, newApp(fmt.Sprintf("app_x%02d", i), "x", base)), "CreateApp")
		}
		apps, total, err := s.QueryApps(ctx, store.AppQuery{})
		must(t, err, "QueryApps")
		if len(apps) != 50 || total != 60 {
			t.Errorf("got %d apps of total %d, want 50 of 60", len(apps), total)
		}
	})
	t.Run("unknown sort field is invalid", func(t *testing.T) {
		_, _, err := s.QueryApps(ctx, store.AppQuery{SortField: "secret_hash"})
		if model.CodeOf(err) != model.CodeInvalidArgument {
			t.Errorf("err = %v, want invalid_argument", err)
		}
	})
}

func testDeleteApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, "app_a")
	createApp(t, s, "app_b")
	mine := upsert(t, s, newConn("con_1", "app_a", "sched", "acct"))
	other := upsert(t, s, newConn("con_2", "app_b", "sched", "acct"))
	must(t, s.PutAppProvider(ctx, model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid", CreatedAt: base, UpdatedAt: base}), "PutAppProvider")
	must(t, s.CreateAuthSession(ctx, newSession("ses_1", "app_a")), "CreateAuthSession")

	must(t, s.DeleteApp(ctx, "app_a"), "DeleteApp")

	_, err := s.GetApp(ctx, "app_a")
	wantErr(t, err, model.ErrNotFound, "GetApp after delete")
	_, err = s.GetAppProvider(ctx, "app_a", "google")
	wantErr(t, err, model.ErrNotFound, "GetAppProvider after delete")
	_, err = s.GetAuthSession(ctx, "ses_1", base)
	wantErr(t, err, model.ErrNotFound, "GetAuthSession after delete")
	got, err := s.GetConnectionByID(ctx, mine.ID)
	must(t, err, "GetConnectionByID")
	if got.Status != model.StatusDisconnected || got.Credentials != nil || got.Version <= mine.Version {
		t.Errorf("connection after app delete: status %s, credentials %q, version %d (was %d)",
			got.Status, got.Credentials, got.Version, mine.Version)
	}
	kept, err := s.GetConnectionByID(ctx, other.ID)
	must(t, err, "GetConnectionByID of another app")
	equal(t, kept, other, "another app's connection")
	wantErr(t, s.DeleteApp(ctx, "app_a"), model.ErrNotFound, "second DeleteApp")
}

var appProviderTests = []test{
	{"PutGetReplace", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		p := model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid",
			ClientSecret: []byte("enc"), Scopes: []string{"a", "b"}, CreatedAt: base, UpdatedAt: base}
		must(t, s.PutAppProvider(ctx, p), "PutAppProvider")
		got, err := s.GetAppProvider(ctx, "app_a", "google")
		must(t, err, "GetAppProvider")
		equal(t, got, p, "GetAppProvider")

		later := base.Add(time.Hour)
		q := model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid2",
			ClientSecret: []byte("enc2"), CreatedAt: later, UpdatedAt: later}
		must(t, s.PutAppProvider(ctx, q), "second PutAppProvider")
		got, err = s.GetAppProvider(ctx, "app_a", "google")
		must(t, err, "GetAppProvider")
		q.CreatedAt = base // replacing keeps the creation time
		equal(t, got, q, "replaced app provider")
	}},
	{"MissingAppOrProviderIsNotFound", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		err := s.PutAppProvider(ctx, model.AppProvider{AppID: "app_missing", ProviderID: "google", ClientID: "cid"})
		wantErr(t, err, model.ErrNotFound, "PutAppProvider for a missing app")
		createApp(t, s, "app_a")
		_, err = s.GetAppProvider(ctx, "app_a", "google")
		wantErr(t, err, model.ErrNotFound, "GetAppProvider")
		wantErr(t, s.DeleteAppProvider(ctx, "app_a", "google"), model.ErrNotFound, "DeleteAppProvider")
	}},
	{"DeleteAndList", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		createApp(t, s, "app_b")
		keys := [][2]string{{"app_a", "google"}, {"app_a", "microsoft"}, {"app_a", "zoom"}, {"app_b", "google"}, {"app_b", "zoom"}}
		for _, k := range keys {
			must(t, s.PutAppProvider(ctx, model.AppProvider{AppID: k[0], ProviderID: k[1], ClientID: "c"}), "PutAppProvider")
		}
		must(t, s.DeleteAppProvider(ctx, "app_a", "zoom"), "DeleteAppProvider")
		want := [][2]string{{"app_a", "google"}, {"app_a", "microsoft"}, {"app_b", "google"}, {"app_b", "zoom"}}
		var got [][2]string
		afterApp, afterProvider := "", ""
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			ps, err := s.ListAppProviders(ctx, afterApp, afterProvider, 3)
			must(t, err, "ListAppProviders")
			if len(ps) == 0 {
				break
			}
			for _, p := range ps {
				got = append(got, [2]string{p.AppID, p.ProviderID})
			}
			last := ps[len(ps)-1]
			afterApp, afterProvider = last.AppID, last.ProviderID
		}
		equal(t, got, want, "listed app providers")
	}},
}
