package api

import (
	"bytes"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, to read the file as an attacker would

	"github.com/oauthbroker/broker/middleware"
)

func TestAdminAuth(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Target"})
	appBasic := basic(c.ID, c.Secret)
	cases := []struct {
		name         string
		method, path string
		body         any
		headers      []string
		status       int
		code         string
	}{
		{"no credentials", "GET", "/v1/apps/" + c.ID, nil, nil, 401, "unauthenticated"},
		{"wrong token", "GET", "/v1/apps/" + c.ID, nil, bearer("nope"), 401, "unauthenticated"},
		{"admin token as basic", "GET", "/v1/apps/" + c.ID, nil, []string{"Authorization", "Basic " + testAdminToken}, 401, "unauthenticated"},
		{"app secret as api key", "GET", "/v1/apps/" + c.ID, nil, []string{middleware.HeaderAPIKey, c.Secret}, 401, "unauthenticated"},
		{"app secret as basic", "POST", "/v1/apps/query", map[string]any{}, appBasic, 401, "unauthenticated"},
		{"app secret as bearer", "POST", "/v1/apps", map[string]any{"app": map[string]any{"name": "x y"}}, bearer(c.Secret), 401, "unauthenticated"},
		{"read token reads", "GET", "/v1/apps/" + c.ID, nil, bearer(testReadToken), 200, ""},
		{"read token queries", "POST", "/v1/apps/query", map[string]any{}, bearer(testReadToken), 200, ""},
		{"read token cannot create", "POST", "/v1/apps", map[string]any{"app": map[string]any{"name": "x y"}}, bearer(testReadToken), 403, "permission_denied"},
		{"read token cannot patch", "PATCH", "/v1/apps/" + c.ID, map[string]any{"app": map[string]any{"name": "x y"}, "mask": map[string]any{"paths": []string{"name"}}}, bearer(testReadToken), 403, "permission_denied"},
		{"read token cannot rotate", "POST", "/v1/apps/" + c.ID + "/secret", nil, bearer(testReadToken), 403, "permission_denied"},
		{"read token cannot rotate webhook", "POST", "/v1/apps/" + c.ID + "/webhook-secret", nil, bearer(testReadToken), 403, "permission_denied"},
		{"read token cannot set provider", "PUT", "/v1/apps/" + c.ID + "/providers/google", map[string]any{"clientId": "a", "clientSecret": "b"}, bearer(testReadToken), 403, "permission_denied"},
		{"read token cannot delete provider", "DELETE", "/v1/apps/" + c.ID + "/providers/google", nil, bearer(testReadToken), 403, "permission_denied"},
		{"read token cannot delete", "DELETE", "/v1/apps/" + c.ID, nil, bearer(testReadToken), 403, "permission_denied"},
		{"admin token on an app route", "GET", "/v1/test/whoami", nil, bearer(testAdminToken), 401, "unauthenticated"},
		{"read token on an app route", "GET", "/v1/test/whoami", nil, bearer(testReadToken), 401, "unauthenticated"},
		{"admin token as api key", "GET", "/v1/test/whoami", nil, []string{middleware.HeaderAPIKey, testAdminToken}, 401, "unauthenticated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.request(tc.method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code != "" {
				if code, _, _ := r.errorOf(t); code != tc.code {
					t.Fatalf("code %s, want %s", code, tc.code)
				}
			}
		})
	}
	// The app is untouched by every refused write.
	if r := h.request("GET", "/v1/test/whoami", nil, appBasic...); r.status != 200 {
		t.Fatalf("app after refused writes: %d", r.status)
	}
}

func TestNoAdminTokenRefusesEverything(t *testing.T) {
	h := newHarness(t, harnessOpts{adminToken: "", readToken: testReadToken})
	for _, hdr := range [][]string{nil, bearer(""), bearer(testReadToken), bearer("anything")} {
		for _, rq := range []struct{ method, path string }{{"POST", "/v1/apps/query"}, {"POST", "/v1/apps"}, {"GET", "/v1/apps/app_x"}} {
			r := h.request(rq.method, rq.path, map[string]any{}, hdr...)
			if code, _, _ := r.errorOf(t); r.status != 401 || code != "unauthenticated" {
				t.Fatalf("%s %s with %v: %d %s", rq.method, rq.path, hdr, r.status, r.body)
			}
		}
	}
}

func TestAppAuth(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Caller"})
	other := h.create(map[string]any{"name": "Other"})
	gone := h.create(map[string]any{"name": "Gone"})
	if r := h.admin("DELETE", "/v1/apps/"+gone.ID, nil); r.status != 204 {
		t.Fatal(r.status)
	}
	// A well-formed secret naming an app that never existed.
	missing := "bks_" + strings.Repeat("a", 26) + "_" + strings.Repeat("b", 52)
	wrong := c.Secret[:len(c.Secret)-4] + "aaaa"
	if wrong == c.Secret {
		wrong = c.Secret[:len(c.Secret)-4] + "bbbb"
	}

	ok := []struct {
		name    string
		headers []string
	}{
		{"api key", []string{middleware.HeaderAPIKey, c.Secret}},
		{"basic", basic(c.ID, c.Secret)},
		{"basic scheme in lower case", []string{"Authorization", strings.Replace(basic(c.ID, c.Secret)[1], "Basic", "basic", 1)}},
		{"api key wins over a bad authorization", []string{middleware.HeaderAPIKey, c.Secret, "Authorization", "Bearer junk"}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r := h.request("GET", "/v1/test/whoami", nil, tc.headers...)
			if r.status != 200 || r.json(t)["appId"] != c.ID {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}

	refused := []struct {
		name    string
		headers []string
	}{
		{"nothing", nil},
		{"missing app", []string{middleware.HeaderAPIKey, missing}},
		{"deleted app", []string{middleware.HeaderAPIKey, gone.Secret}},
		{"deleted app basic", basic(gone.ID, gone.Secret)},
		{"wrong secret", []string{middleware.HeaderAPIKey, wrong}},
		{"wrong secret basic", basic(c.ID, wrong)},
		{"garbage", []string{middleware.HeaderAPIKey, "hello"}},
		{"basic with another app's id", basic(other.ID, c.Secret)},
		{"basic without secret", basic(c.ID, "")},
		{"basic not base64", []string{"Authorization", "Basic !!!"}},
		{"bearer secret", bearer(c.Secret)},
		{"digest scheme", []string{"Authorization", "Digest " + c.Secret}},
		{"api key checked first", append([]string{middleware.HeaderAPIKey, wrong}, basic(c.ID, c.Secret)...)},
	}
	var first []byte
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := h.request("GET", "/v1/test/whoami", nil, tc.headers...)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if first == nil {
				first = r.body
			}
			if !bytes.Equal(r.body, first) {
				t.Fatalf("401 bodies differ, which tells a caller why: %s vs %s", r.body, first)
			}
			if r.header.Get("WWW-Authenticate") == "" || r.header.Get(middleware.HeaderBrokerError) != "unauthenticated" {
				t.Fatalf("headers %v", r.header)
			}
		})
	}
}

func TestPermissionDenied(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Reader", "permissions": []string{"CONNECTIONS_READ", "EVENTS_READ"}})
	r := h.request("GET", "/v1/test/proxy", nil, middleware.HeaderAPIKey, c.Secret)
	if code, _, msg := r.errorOf(t); r.status != http.StatusForbidden || code != "permission_denied" || !strings.Contains(msg, "PROXY") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	full := h.create(map[string]any{"name": "Proxier"})
	if r := h.request("GET", "/v1/test/proxy", nil, middleware.HeaderAPIKey, full.Secret); r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestStoreDownIsUnavailable(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Offline"})
	h.store.down.Store(true)
	r := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, c.Secret)
	if code, _, _ := r.errorOf(t); r.status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	h.store.down.Store(false)
	if r := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, c.Secret); r.status != 200 {
		t.Fatalf("after recovery: %d", r.status)
	}
	// Once cached, an app keeps working while the store is down: the hot path
	// reads nothing.
	h.store.down.Store(true)
	if r := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, c.Secret); r.status != 200 {
		t.Fatalf("cached app with the store down: %d %s", r.status, r.body)
	}
}

// TestSecretsNeverStoredInPlainText reads every column of every table of the
// SQLite file, and the raw files, looking for any secret the API showed.
func TestSecretsNeverStoredInPlainText(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Vault", "allowedDomains": []string{"vault.example.com"}})
	rot := h.admin("POST", "/v1/apps/"+c.ID+"/secret", nil).json(t)["clientSecret"].(string)
	wh := h.admin("POST", "/v1/apps/"+c.ID+"/webhook-secret", nil).json(t)["webhookSecret"].(string)
	const ownSecret = "own-provider-client-secret-4242"
	if r := h.admin("PUT", "/v1/apps/"+c.ID+"/providers/google", map[string]any{"clientId": "cid", "clientSecret": ownSecret}); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	secretsShown := []string{c.Secret, c.WebhookSecret, rot, wh, ownSecret}

	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := queryStrings(t, db, "SELECT name FROM sqlite_master WHERE type = 'table'")
	if len(tables) == 0 {
		t.Fatal("no tables found")
	}
	cells, sawID := 0, false
	for _, table := range tables {
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM %q", table))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				cells++
				var b []byte
				switch x := v.(type) {
				case []byte:
					b = x
				case string:
					b = []byte(x)
				default:
					continue
				}
				sawID = sawID || bytes.Contains(b, []byte(c.ID))
				for _, s := range secretsShown {
					if bytes.Contains(b, []byte(s)) {
						t.Errorf("%s.%s holds a secret in plain text", table, cols[i])
					}
				}
			}
		}
		rows.Close()
	}
	if cells == 0 || !sawID {
		t.Fatalf("the scan read %d cells and did not find the app's id: it is not reading the apps", cells)
	}
	for _, suffix := range []string{"", "-wal"} {
		raw, err := os.ReadFile(h.dbPath + suffix)
		if err != nil {
			continue
		}
		for _, s := range secretsShown {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s holds a secret in plain text", h.dbPath+suffix)
			}
		}
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
