package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

// rotationTests cover what `broker keys rotate` relies on while replicas and
// admins keep writing: paging that skips no row when rows are created
// between pages, and a re-seal of an app's own client secret that neither
// overwrites a concurrent replacement nor re-creates a deleted row.
var rotationTests = []test{
	{"AppsPageByCursorSkipsNone", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, id := range []string{"app_b", "app_d", "app_f", "app_h", "app_j"} {
			createApp(t, s, id)
		}
		// After every page, the apps just listed are deleted (an offset
		// would then point past as many rows never read), and apps are
		// created before the cursor, between the rows still to come and
		// after the end.
		var last []string
		seen := pageAll(t, func(after string) ([]string, error) {
			apps, err := s.ListApps(ctx, after, 2)
			last = nil
			for _, a := range apps {
				last = append(last, a.ID)
			}
			return last, err
		}, func(page int) {
			for _, id := range last {
				must(t, s.DeleteApp(ctx, id), "DeleteApp")
			}
			for _, id := range []string{fmt.Sprintf("app_a%d", page), fmt.Sprintf("app_e%d", page), fmt.Sprintf("app_z%d", page)} {
				createApp(t, s, id)
			}
		})
		// Each app that existed when paging began is listed, once, and in
		// order; so are those created ahead of the cursor.
		for _, id := range []string{"app_b", "app_d", "app_f", "app_h", "app_j", "app_z0"} {
			if n := count(seen, id); n != 1 {
				t.Errorf("%s listed %d times; listed %v", id, n, seen)
			}
		}
		if !slices.IsSorted(seen) {
			t.Errorf("not in id order: %v", seen)
		}
	}},
	{"AppProvidersPageByCursorSkipsNone", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		createApp(t, s, "app_b")
		put := func(app, prov string) {
			must(t, s.PutAppProvider(ctx, model.AppProvider{AppID: app, ProviderID: prov, ClientID: "c", ClientSecret: []byte("s")}), "PutAppProvider")
		}
		for _, k := range [][2]string{{"app_a", "p2"}, {"app_a", "p4"}, {"app_b", "p2"}, {"app_b", "p4"}} {
			put(k[0], k[1])
		}
		seen := pageAll(t, func(after string) ([]string, error) {
			app, prov, _ := strings.Cut(after, "/")
			ps, err := s.ListAppProviders(ctx, app, prov, 1)
			var keys []string
			for _, p := range ps {
				keys = append(keys, p.AppID+"/"+p.ProviderID)
			}
			return keys, err
		}, func(page int) {
			put("app_a", fmt.Sprintf("p1-%d", page))
			put("app_b", fmt.Sprintf("p3-%d", page))
		})
		for _, k := range []string{"app_a/p2", "app_a/p4", "app_b/p2", "app_b/p4"} {
			if n := count(seen, k); n != 1 {
				t.Errorf("%s listed %d times; listed %v", k, n, seen)
			}
		}
	}},
	{"ConnectionsPageByCursorSkipsNone", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		for _, id := range []string{"con_b", "con_d", "con_f", "con_h"} {
			upsert(t, s, newConn(id, "app_a", "sched", "acct_"+id))
		}
		seen := pageAll(t, func(after string) ([]string, error) {
			cs, err := s.ListConnections(ctx, store.ConnectionFilter{After: after, Limit: 2})
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			return ids, err
		}, func(page int) {
			id := fmt.Sprintf("con_a%d", page)
			upsert(t, s, newConn(id, "app_a", "sched", "acct_"+id))
		})
		for _, id := range []string{"con_b", "con_d", "con_f", "con_h"} {
			if n := count(seen, id); n != 1 {
				t.Errorf("%s listed %d times; listed %v", id, n, seen)
			}
		}
	}},
	{"ResealAppProviderKeepsAConcurrentReplacement", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		old := model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid-1",
			ClientSecret: []byte("sealed-1"), Scopes: []string{"a"}, CreatedAt: base, UpdatedAt: base}
		must(t, s.PutAppProvider(ctx, old), "PutAppProvider")
		// While the re-seal works on the first secret, an admin replaces the
		// client. The re-seal's write must be refused and fn run again on
		// the replacement: the admin's client survives.
		later := base.Add(time.Hour)
		replacement := model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid-2",
			ClientSecret: []byte("sealed-2"), Scopes: []string{"b"}, CreatedAt: later, UpdatedAt: later}
		var saw [][]byte
		err := s.ResealAppProvider(ctx, "app_a", "google", func(cur []byte) ([]byte, error) {
			saw = append(saw, bytes.Clone(cur))
			if len(saw) == 1 {
				must(t, s.PutAppProvider(ctx, replacement), "concurrent PutAppProvider")
			}
			return append([]byte("resealed:"), cur...), nil
		})
		must(t, err, "ResealAppProvider")
		equal(t, saw, [][]byte{[]byte("sealed-1"), []byte("sealed-2")}, "ciphertexts fn saw")
		got, err := s.GetAppProvider(ctx, "app_a", "google")
		must(t, err, "GetAppProvider")
		want := replacement
		want.ClientSecret, want.CreatedAt = []byte("resealed:sealed-2"), base
		equal(t, got, want, "app provider after re-seal and replacement")
	}},
	{"ResealAppProviderLeavesADeletedRowDeleted", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		must(t, s.PutAppProvider(ctx, model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid",
			ClientSecret: []byte("sealed"), CreatedAt: base, UpdatedAt: base}), "PutAppProvider")
		err := s.ResealAppProvider(ctx, "app_a", "google", func(cur []byte) ([]byte, error) {
			must(t, s.DeleteAppProvider(ctx, "app_a", "google"), "concurrent DeleteAppProvider")
			return []byte("resealed"), nil
		})
		wantErr(t, err, model.ErrNotFound, "ResealAppProvider of a row deleted meanwhile")
		_, err = s.GetAppProvider(ctx, "app_a", "google")
		wantErr(t, err, model.ErrNotFound, "GetAppProvider after the re-seal")
		err = s.ResealAppProvider(ctx, "app_a", "google", func([]byte) ([]byte, error) {
			t.Error("fn called for a missing row")
			return nil, nil
		})
		wantErr(t, err, model.ErrNotFound, "ResealAppProvider of a missing row")
	}},
	{"ResealAppProviderChangesOnlyTheSecret", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		p := model.AppProvider{AppID: "app_a", ProviderID: "google", ClientID: "cid",
			ClientSecret: []byte("sealed"), Scopes: []string{"x", "y"}, CreatedAt: base, UpdatedAt: base}
		must(t, s.PutAppProvider(ctx, p), "PutAppProvider")
		must(t, s.ResealAppProvider(ctx, "app_a", "google", func([]byte) ([]byte, error) { return []byte("resealed"), nil }), "ResealAppProvider")
		got, err := s.GetAppProvider(ctx, "app_a", "google")
		must(t, err, "GetAppProvider")
		p.ClientSecret = []byte("resealed")
		equal(t, got, p, "re-sealed app provider")

		boom := errors.New("boom")
		err = s.ResealAppProvider(ctx, "app_a", "google", func([]byte) ([]byte, error) { return []byte("never"), boom })
		wantErr(t, err, boom, "ResealAppProvider with a failing fn")
		got, err = s.GetAppProvider(ctx, "app_a", "google")
		must(t, err, "GetAppProvider")
		equal(t, got, p, "app provider after an aborted re-seal")
	}},
}

// pageAll pages with list (after = the last key of the previous page, ""
// first) until an empty page, calling between(n) after each of the first
// three pages (so that rows created ahead of the cursor end too).
func pageAll(t *testing.T, list func(after string) ([]string, error), between func(page int)) []string {
	t.Helper()
	var seen []string
	after := ""
	for page := 0; ; page++ {
		if page > 50 {
			t.Fatalf("paging does not end; listed %v", seen)
		}
		keys, err := list(after)
		must(t, err, "list page")
		if len(keys) == 0 {
			return seen
		}
		seen = append(seen, keys...)
		after = keys[len(keys)-1]
		if page < 3 {
			between(page)
		}
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
