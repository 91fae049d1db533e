package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/middleware"
)

func names(t *testing.T, r resp) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("query: %d %s", r.status, r.body)
	}
	var out []string
	for _, a := range r.json(t)["apps"].([]any) {
		out = append(out, a.(map[string]any)["name"].(string))
	}
	return strings.Join(out, ",")
}

func TestQueryApps(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for _, n := range []string{"bravo", "alpha", "charlie"} {
		ids = append(ids, h.create(map[string]any{"name": n}).ID)
	}
	sorted := append([]string(nil), ids...)
	// Default order is id descending.
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j] > sorted[i] {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	byID := map[string]string{ids[0]: "bravo", ids[1]: "alpha", ids[2]: "charlie"}
	wantDefault := byID[sorted[0]] + "," + byID[sorted[1]] + "," + byID[sorted[2]]

	t.Run("default sort id descending", func(t *testing.T) {
		if got := names(t, h.admin("POST", "/v1/apps/query", map[string]any{})); got != wantDefault {
			t.Fatalf("got %s, want %s", got, wantDefault)
		}
		if got := names(t, h.admin("POST", "/v1/apps/query", nil)); got != wantDefault {
			t.Fatalf("empty body: got %s, want %s", got, wantDefault)
		}
	})
	sorts := []struct{ field, order, want string }{
		{"name", "ASC", "alpha,bravo,charlie"},
		{"name", "DESC", "charlie,bravo,alpha"},
		{"name", "", "alpha,bravo,charlie"},
		{"createdDate", "ASC", "bravo,alpha,charlie"},
		{"createdDate", "DESC", "charlie,alpha,bravo"},
	}
	for _, s := range sorts {
		t.Run("sort "+s.field+" "+s.order, func(t *testing.T) {
			body := map[string]any{"sort": []map[string]string{{"fieldName": s.field, "order": s.order}}}
			if got := names(t, h.admin("POST", "/v1/apps/query", body)); got != s.want {
				t.Fatalf("got %s, want %s", got, s.want)
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		r := h.admin("POST", "/v1/apps/query", map[string]any{
			"sort": []map[string]string{{"fieldName": "name", "order": "ASC"}}, "paging": map[string]int{"limit": 2, "offset": 1},
		})
		if got := names(t, r); got != "bravo,charlie" {
			t.Fatalf("page = %s", got)
		}
		pm := r.json(t)["pagingMetadata"].(map[string]any)
		if fmt.Sprint(pm["count"], pm["offset"], pm["total"]) != "2 1 3" {
			t.Fatalf("pagingMetadata = %v", pm)
		}
	})
	t.Run("filter id", func(t *testing.T) {
		r := h.admin("POST", "/v1/apps/query", map[string]any{"filter": map[string]string{"id": ids[1]}})
		if got := names(t, r); got != "alpha" {
			t.Fatalf("got %s", got)
		}
		if pm := r.json(t)["pagingMetadata"].(map[string]any); pm["total"] != float64(1) {
			t.Fatalf("total = %v", pm["total"])
		}
	})
	bad := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"sort field", map[string]any{"sort": []map[string]string{{"fieldName": "secretHash"}}}, "sort[0].fieldName"},
		{"sort order", map[string]any{"sort": []map[string]string{{"fieldName": "name", "order": "UP"}}}, "sort[0].order"},
		{"two sorts", map[string]any{"sort": []map[string]string{{"fieldName": "name"}, {"fieldName": "createdDate"}}}, "sort"},
		{"limit over 100", map[string]any{"paging": map[string]int{"limit": 101}}, "paging.limit"},
		{"negative limit", map[string]any{"paging": map[string]int{"limit": -1}}, "paging.limit"},
		{"negative offset", map[string]any{"paging": map[string]int{"offset": -1}}, "paging.offset"},
	}
	for _, b := range bad {
		t.Run("refused "+b.name, func(t *testing.T) {
			r := h.admin("POST", "/v1/apps/query", b.body)
			if code, field, _ := r.errorOf(t); r.status != 400 || code != "invalid_argument" || field != b.field {
				t.Fatalf("%d %s, want invalid_argument on %s", r.status, r.body, b.field)
			}
		})
	}
}

func TestUpdateApp(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Before", "description": "keep me", "allowedDomains": []string{"a.example.com"}})

	r := h.admin("PATCH", "/v1/apps/"+c.ID, map[string]any{
		"app":  map[string]any{"name": "After", "description": "ignored", "allowedDomains": []string{"B.example.com"}},
		"mask": map[string]any{"paths": []string{"name", "allowedDomains"}},
	})
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := r.json(t)["app"].(map[string]any)
	if got["name"] != "After" || got["description"] != "keep me" || fmt.Sprint(got["allowedDomains"]) != "[b.example.com]" {
		t.Fatalf("only masked fields must change: %s", r.body)
	}
	if got["createdDate"] != c.App["createdDate"] {
		t.Errorf("createdDate changed: %v -> %v", c.App["createdDate"], got["createdDate"])
	}
	// The change is stored, not just echoed.
	if g := h.admin("GET", "/v1/apps/"+c.ID, nil).json(t)["app"].(map[string]any); g["name"] != "After" {
		t.Fatalf("GET after PATCH: %v", g)
	}

	bad := []struct {
		name   string
		body   map[string]any
		status int
		field  string
		inMsg  string
	}{
		{"empty mask", map[string]any{"app": map[string]any{"name": "x y"}, "mask": map[string]any{"paths": []string{}}}, 400, "mask.paths", ""},
		{"no mask", map[string]any{"app": map[string]any{"name": "x y"}}, 400, "mask.paths", ""},
		{"unknown path", map[string]any{"app": map[string]any{}, "mask": map[string]any{"paths": []string{"name", "colour"}}}, 400, "mask.paths[1]", "colour"},
		{"read-only id", map[string]any{"app": map[string]any{"id": "app_x"}, "mask": map[string]any{"paths": []string{"id"}}}, 400, "mask.paths[0]", "read-only"},
		{"read-only createdDate", map[string]any{"app": map[string]any{}, "mask": map[string]any{"paths": []string{"createdDate"}}}, 400, "mask.paths[0]", "createdDate"},
		{"invalid value", map[string]any{"app": map[string]any{"allowedDomains": []string{"co.uk"}}, "mask": map[string]any{"paths": []string{"allowedDomains"}}}, 400, "app.allowedDomains[0]", "co.uk"},
		{"masked name emptied", map[string]any{"app": map[string]any{}, "mask": map[string]any{"paths": []string{"name"}}}, 400, "app.name", ""},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			r := h.admin("PATCH", "/v1/apps/"+c.ID, b.body)
			code, field, msg := r.errorOf(t)
			if r.status != b.status || code != "invalid_argument" || field != b.field || !strings.Contains(msg, b.inMsg) {
				t.Fatalf("%d %s, want %d on %s", r.status, r.body, b.status, b.field)
			}
		})
	}
	t.Run("missing app", func(t *testing.T) {
		r := h.admin("PATCH", "/v1/apps/app_aaaaaaaaaaaaaaaaaaaaaaaaaa", map[string]any{
			"app": map[string]any{"name": "ok"}, "mask": map[string]any{"paths": []string{"name"}}})
		if r.status != http.StatusNotFound {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("permissions change takes effect on a cached app", func(t *testing.T) {
		if r := h.request("GET", "/v1/test/proxy", nil, middleware.HeaderAPIKey, c.Secret); r.status != http.StatusNoContent {
			t.Fatalf("before: %d %s", r.status, r.body)
		}
		r := h.admin("PATCH", "/v1/apps/"+c.ID, map[string]any{
			"app": map[string]any{"permissions": []string{"CONNECTIONS_READ"}}, "mask": map[string]any{"paths": []string{"permissions"}}})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = h.request("GET", "/v1/test/proxy", nil, middleware.HeaderAPIKey, c.Secret)
		if code, _, _ := r.errorOf(t); r.status != http.StatusForbidden || code != "permission_denied" {
			t.Fatalf("after losing PROXY: %d %s", r.status, r.body)
		}
	})
}

func TestDeleteApp(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Doomed"})
	// Authenticate first so the app sits in the cache.
	if r := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, c.Secret); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := h.admin("DELETE", "/v1/apps/"+c.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, hdr := range [][]string{{middleware.HeaderAPIKey, c.Secret}, basic(c.ID, c.Secret)} {
		if r := h.request("GET", "/v1/test/whoami", nil, hdr...); r.status != http.StatusUnauthorized {
			t.Fatalf("deleted app still authenticates: %d %s", r.status, r.body)
		}
	}
	if r := h.admin("GET", "/v1/apps/"+c.ID, nil); r.status != http.StatusNotFound {
		t.Fatalf("get deleted: %d", r.status)
	}
	if r := h.admin("DELETE", "/v1/apps/"+c.ID, nil); r.status != http.StatusNotFound {
		t.Fatalf("second delete: %d %s", r.status, r.body)
	}
}

func TestRotateSecret(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Rotor"})
	if r := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, c.Secret); r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	r := h.admin("POST", "/v1/apps/"+c.ID+"/secret", nil)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v %s", r.status, r.header, r.body)
	}
	fresh, _ := r.json(t)["clientSecret"].(string)
	if fresh == "" || fresh == c.Secret {
		t.Fatalf("new secret %q", fresh)
	}
	if r := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, c.Secret); r.status != http.StatusUnauthorized {
		t.Fatalf("old (cached) secret still works: %d", r.status)
	}
	if r := h.request("GET", "/v1/test/whoami", nil, basic(c.ID, fresh)...); r.status != http.StatusOK {
		t.Fatalf("new secret: %d %s", r.status, r.body)
	}
	for _, id := range []string{"app_aaaaaaaaaaaaaaaaaaaaaaaaaa", "garbage"} {
		if r := h.admin("POST", "/v1/apps/"+id+"/secret", nil); r.status != http.StatusNotFound {
			t.Fatalf("rotate %s: %d %s", id, r.status, r.body)
		}
	}
}

func TestRotateWebhookSecret(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Hooked"})
	r := h.admin("POST", "/v1/apps/"+c.ID+"/webhook-secret", nil)
	fresh, _ := r.json(t)["webhookSecret"].(string)
	if r.status != http.StatusOK || !strings.HasPrefix(fresh, "whsec_") || fresh == c.WebhookSecret {
		t.Fatalf("%d %s", r.status, r.body)
	}
	a, err := h.svc.Get(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.svc.WebhookSecret(a); err != nil || got != fresh {
		t.Fatalf("stored webhook secret = %q, %v; want the one just shown", got, err)
	}
	if r := h.admin("POST", "/v1/apps/app_aaaaaaaaaaaaaaaaaaaaaaaaaa/webhook-secret", nil); r.status != http.StatusNotFound {
		t.Fatalf("%d", r.status)
	}
}

func TestAppProviders(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Own Client"})
	path := "/v1/apps/" + c.ID + "/providers/google"
	r := h.admin("PUT", path, map[string]any{"clientId": "cid.apps.example", "clientSecret": "own-client-secret-xyz", "scopes": []string{"calendar"}})
	if r.status != http.StatusOK || strings.Contains(string(r.body), "own-client-secret-xyz") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	p, err := h.store.GetAppProvider(context.Background(), c.ID, "google")
	if err != nil {
		t.Fatal(err)
	}
	pt, err := h.keys.Decrypt(p.ClientSecret, model.AppProviderAAD(c.ID, "google"))
	if err != nil || string(pt) != "own-client-secret-xyz" || p.ClientID != "cid.apps.example" {
		t.Fatalf("stored client: %+v, %q, %v", p, pt, err)
	}
	bad := []struct {
		name, path string
		body       map[string]any
		status     int
		field      string
	}{
		{"unknown provider", "/v1/apps/" + c.ID + "/providers/nope", map[string]any{"clientId": "a", "clientSecret": "b"}, 404, "providerId"},
		{"not oauth2", "/v1/apps/" + c.ID + "/providers/caldav", map[string]any{"clientId": "a", "clientSecret": "b"}, 400, "providerId"},
		{"no client id", path, map[string]any{"clientSecret": "b"}, 400, "clientId"},
		{"no client secret", path, map[string]any{"clientId": "a"}, 400, "clientSecret"},
		{"bad scope", path, map[string]any{"clientId": "a", "clientSecret": "b", "scopes": []string{"a b"}}, 400, "scopes[0]"},
		{"missing app", "/v1/apps/app_aaaaaaaaaaaaaaaaaaaaaaaaaa/providers/google", map[string]any{"clientId": "a", "clientSecret": "b"}, 404, ""},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			r := h.admin("PUT", b.path, b.body)
			if _, field, _ := r.errorOf(t); r.status != b.status || field != b.field {
				t.Fatalf("%d %s, want %d on %q", r.status, r.body, b.status, b.field)
			}
		})
	}
	if r := h.admin("DELETE", path, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := h.admin("DELETE", path, nil); r.status != http.StatusNotFound {
		t.Fatalf("second delete: %d %s", r.status, r.body)
	}
}
