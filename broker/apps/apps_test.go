package apps_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
)

func newService(t *testing.T) (*apps.Service, *[]string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyRing(secrets.Key{ID: "k", Key: bytes.Repeat([]byte{2}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	svc, err := apps.New(apps.Options{Store: st, Keys: keys, OnChange: func(id string) { changed = append(changed, id) }})
	if err != nil {
		t.Fatal(err)
	}
	return svc, &changed
}

func invalidField(err error) string {
	var e *model.Error
	if errors.As(err, &e) && e.Code == model.CodeInvalidArgument {
		return e.Field
	}
	return "not invalid_argument: " + err.Error()
}

// The domain rules, entry by entry (the HTTP tests cover the envelope).
func TestAllowedDomains(t *testing.T) {
	svc, _ := newService(t)
	cases := []struct {
		domain string
		ok     bool
	}{
		{"example.com", true}, {"App.Example.COM", true}, {"xn--bcher-kva.de", true}, {"a.b.c.example.co.uk", true},
		{"localhost", true}, {"my-app.example.io", true},
		{"*", false}, {"*.example.com", false}, {"com", false}, {"co.uk", false}, {"github.io", false},
		{"1.2.3.4", false}, {"::1", false}, {"[2001:db8::1]", false}, {"1.2.3", false}, {"example.123", false},
		{"https://x.com", false}, {"x.com:443", false}, {"x.com/path", false}, {"x.com?q", false}, {"x.com#f", false},
		{"bücher.de", false}, {"ex ample.com", false}, {"example.com.", false}, {".example.com", false},
		{"-a.example.com", false}, {"a_b.example.com", false}, {strings.Repeat("a", 64) + ".com", false},
		{"intranet", false}, {"", false},
	}
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			a, _, _, err := svc.Create(context.Background(), apps.AppInput{Name: "ok", AllowedDomains: []string{"fine.example.com", tc.domain}})
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.ok && a.AllowedDomains[1] != strings.ToLower(tc.domain):
				t.Fatalf("stored %q", a.AllowedDomains[1])
			case !tc.ok && invalidField(err) != "app.allowedDomains[1]":
				t.Fatalf("got %v, want invalid_argument on app.allowedDomains[1]", err)
			}
		})
	}
}

func TestUpdateOnlyMaskedFieldsAndNotifies(t *testing.T) {
	svc, changed := newService(t)
	ctx := context.Background()
	a, _, _, err := svc.Create(ctx, apps.AppInput{Name: "orig", Description: "d", HomepageURL: "https://x.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Permissions) != len(model.AllPermissions) {
		t.Fatalf("default permissions %v", a.Permissions)
	}
	u, err := svc.Update(ctx, a.ID, apps.AppInput{Name: "new name", Description: "lost?"}, []string{"name", "permissions"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "new name" || u.Description != "d" || u.HomepageURL != "https://x.example.com" || len(u.Permissions) != 0 {
		t.Fatalf("updated %+v", u)
	}
	if len(*changed) != 1 || (*changed)[0] != a.ID {
		t.Fatalf("OnChange calls %v", *changed)
	}
	for _, bad := range [][]string{nil, {"updatedDate"}, {"name", "secretHash"}} {
		if _, err := svc.Update(ctx, a.ID, apps.AppInput{Name: "x y"}, bad); !strings.HasPrefix(invalidField(err), "mask.paths") {
			t.Fatalf("mask %v: %v", bad, err)
		}
	}
	if _, err := svc.RotateSecret(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if len(*changed) != 3 {
		t.Fatalf("rotation and deletion must notify: %v", *changed)
	}
	if _, err := svc.Get(ctx, a.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestQueryDefaults(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	for _, n := range []string{"aa", "bb"} {
		if _, _, _, err := svc.Create(ctx, apps.AppInput{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	list, total, err := svc.Query(ctx, store.AppQuery{})
	if err != nil || total != 2 || len(list) != 2 || list[0].ID < list[1].ID {
		t.Fatalf("default query: %d %v %v (want id descending)", total, len(list), err)
	}
	if _, _, err := svc.Query(ctx, store.AppQuery{SortField: "secretHash"}); invalidField(err) != "sort[0].fieldName" {
		t.Fatal(err)
	}
}
