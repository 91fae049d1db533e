package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
)

const (
	testAdminToken = "test-admin-token-0123456789abcdef"
	testReadToken  = "test-read-token-0123456789abcdef"
)

// flakyStore is the real SQLite store with a switch that makes app reads
// fail as an unreachable database does, for the 503 path.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) GetApp(ctx context.Context, id string) (model.App, error) {
	if f.down.Load() {
		return model.App{}, fmt.Errorf("store: get app: %w", model.ErrUnavailable)
	}
	return f.Store.GetApp(ctx, id)
}

type harness struct {
	t      testing.TB
	srv    *httptest.Server
	store  *flakyStore
	svc    *apps.Service
	auth   *middleware.Authenticator
	keys   *secrets.KeyRing
	dbPath string
}

type harnessOpts struct {
	adminToken, readToken string
}

// newHarness serves the app routes on the real router over a real SQLite
// file, plus two app-authenticated routes standing in for the app API.
func newHarness(t testing.TB, o ...harnessOpts) *harness {
	t.Helper()
	opt := harnessOpts{adminToken: testAdminToken, readToken: testReadToken}
	if len(o) > 0 {
		opt = o[0]
	}
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "broker.db")
	st, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyRing(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	fs := &flakyStore{Store: st}
	auth, err := middleware.NewAuthenticator(middleware.AuthOptions{Store: fs, CacheSize: config.DefaultCacheApps,
		CacheTTL: middleware.AppCacheTTL, AdminToken: opt.adminToken, AdminReadToken: opt.readToken})
	if err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry(
		&providers.Provider{ID: "google", Spec: providers.Spec{Kind: providers.KindOAuth2}},
		&providers.Provider{ID: "caldav", Spec: providers.Spec{Kind: providers.KindBasic}},
	)
	// A clock that ticks a second per call, so creation order is also
	// createdDate order whatever the store's time resolution.
	var tick atomic.Int64
	now := func() time.Time {
		return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(tick.Add(1)) * time.Second)
	}
	svc, err := apps.New(apps.Options{Store: fs, Keys: keys, Providers: reg, OnChange: auth.Purge, Now: now})
	if err != nil {
		t.Fatal(err)
	}

	gin.SetMode(gin.TestMode)
	e := gin.New()
	registerApps(e, Deps{Store: fs, Auth: auth, Apps: svc})
	e.GET("/v1/test/whoami", auth.App(), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"appId": middleware.AppFrom(c).ID, "logged": middleware.AppIDFrom(c)})
	})
	e.GET("/v1/test/proxy", auth.App(), middleware.RequirePermission(model.PermProxy), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, store: fs, svc: svc, auth: auth, keys: keys, dbPath: dbPath}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// errorOf returns the envelope's code and field.
func (r resp) errorOf(t testing.TB) (code, field, message string) {
	t.Helper()
	var b model.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("not an error envelope: %q", r.body)
	}
	if got := r.header.Get(middleware.HeaderBrokerError); got != string(b.Error.Code) {
		t.Errorf("X-Broker-Error = %q, body code %q", got, b.Error.Code)
	}
	return string(b.Error.Code), b.Error.Field, b.Error.Message
}

// request sends body (a string is sent raw, anything else as JSON) with
// the given headers.
func (h *harness) request(method, path string, body any, headers ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: out}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func (h *harness) admin(method, path string, body any) resp {
	h.t.Helper()
	return h.request(method, path, body, bearer(testAdminToken)...)
}

type created struct {
	ID, Secret, WebhookSecret string
	App                       map[string]any
}

func (h *harness) create(app map[string]any) created {
	h.t.Helper()
	r := h.admin("POST", "/v1/apps", map[string]any{"app": app})
	if r.status != http.StatusCreated {
		h.t.Fatalf("create: %d %s", r.status, r.body)
	}
	m := r.json(h.t)
	a := m["app"].(map[string]any)
	return created{ID: a["id"].(string), Secret: m["clientSecret"].(string), WebhookSecret: m["webhookSecret"].(string), App: a}
}

func basic(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
}

func TestCreateApp(t *testing.T) {
	h := newHarness(t)
	r := h.admin("POST", "/v1/apps", map[string]any{"app": map[string]any{
		"name": "Booking Site", "description": "books things", "homepageUrl": "https://booking.example.com",
		"logoUrl": "https://cdn.example.com/logo.png", "allowedDomains": []string{"Booking.Example.com", "xn--bcher-kva.de"},
		"allowedRedirectUris": []string{"https://booking.example.com/cb", "http://localhost:3000/cb"},
		"webhookUrl":          "https://booking.example.com/hooks",
	}})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store on a response with secrets", cc)
	}
	m := r.json(t)
	app := m["app"].(map[string]any)
	secret, _ := m["clientSecret"].(string)
	wh, _ := m["webhookSecret"].(string)
	if !strings.HasPrefix(app["id"].(string), "app_") || !strings.HasPrefix(secret, "bks_") || !strings.HasPrefix(wh, "whsec_") {
		t.Fatalf("id/secrets not in their formats: %s", r.body)
	}
	if got := fmt.Sprint(app["allowedDomains"]); got != "[booking.example.com xn--bcher-kva.de]" {
		t.Errorf("allowedDomains = %s, want lower-cased entries", got)
	}
	if got := fmt.Sprint(app["permissions"]); got != "[CONNECTIONS_MANAGE CONNECTIONS_READ PROXY EVENTS_READ]" {
		t.Errorf("permissions default = %s, want all four", got)
	}
	for _, k := range []string{"id", "name", "description", "logoUrl", "homepageUrl", "allowedDomains", "allowedRedirectUris",
		"loginUrl", "logoutUrl", "webhookUrl", "permissions", "rateLimit", "createdDate", "updatedDate"} {
		if _, ok := app[k]; !ok {
			t.Errorf("app lacks %q: %s", k, r.body)
		}
	}
	if len(app) != 14 {
		t.Errorf("app has %d fields, want exactly the 14 documented ones: %s", len(app), r.body)
	}

	// The new app authenticates with the secret it was shown.
	who := h.request("GET", "/v1/test/whoami", nil, middleware.HeaderAPIKey, secret)
	if who.status != http.StatusOK || who.json(t)["appId"] != app["id"] || who.json(t)["logged"] != app["id"] {
		t.Fatalf("whoami: %d %s", who.status, who.body)
	}
}

func TestCreateAppValidation(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("n", 257)
	cases := []struct {
		name      string
		app       map[string]any
		field     string
		inMessage string
	}{
		{"name too short", map[string]any{"name": "x"}, "app.name", "2 to 256"},
		{"name too long", map[string]any{"name": long}, "app.name", "2 to 256"},
		{"wildcard domain", dom("ok.example.com", "*"), "app.allowedDomains[1]", `"*"`},
		{"wildcard subdomain", dom("*.example.com"), "app.allowedDomains[0]", "wildcard"},
		{"bare public suffix com", dom("com"), "app.allowedDomains[0]", "public suffix"},
		{"bare public suffix co.uk", dom("co.uk"), "app.allowedDomains[0]", `"co.uk"`},
		{"ipv4 address", dom("1.2.3.4"), "app.allowedDomains[0]", "IP address"},
		{"ipv6 address", dom("[::1]"), "app.allowedDomains[0]", "IP address"},
		{"scheme", dom("https://x.com"), "app.allowedDomains[0]", "scheme"},
		{"port", dom("x.com:443"), "app.allowedDomains[0]", "port"},
		{"path", dom("x.com/path"), "app.allowedDomains[0]", "path"},
		{"unicode", dom("bücher.de"), "app.allowedDomains[0]", "punycode"},
		{"empty domain", dom(""), "app.allowedDomains[0]", "empty"},
		{"userinfo domain", dom("user@x.com"), "app.allowedDomains[0]", "user"},
		{"bad label", dom("-x.com"), "app.allowedDomains[0]", "host name"},
		{"redirect over http off localhost", redir("http://app.example.com/cb"), "app.allowedRedirectUris[0]", "https"},
		{"redirect userinfo", redir("https://app.example.com@evil.com/cb"), "app.allowedRedirectUris[0]", "user information"},
		{"redirect scheme-relative", redir("//evil.com/cb"), "app.allowedRedirectUris[0]", "absolute"},
		{"redirect javascript", redir("javascript:alert(1)//app.example.com"), "app.allowedRedirectUris[0]", "absolute"},
		{"redirect fragment", redir("https://app.example.com/cb#x"), "app.allowedRedirectUris[0]", "fragment"},
		{"redirect reserved query", redir("https://app.example.com/cb?code=x&state=y"), "app.allowedRedirectUris[0]", `"code"`},
		{"redirect backslash", redir(`https://app.example.com\@evil.com/cb`), "app.allowedRedirectUris[0]", "backslash"},
		{"redirect relative", redir("/cb"), "app.allowedRedirectUris[0]", "absolute"},
		{"redirect second entry", redir("https://app.example.com/cb", "ftp://app.example.com/cb"), "app.allowedRedirectUris[1]", "https"},
		{"logo over http", map[string]any{"name": "ok", "logoUrl": "http://cdn.example.com/l.png"}, "app.logoUrl", "https"},
		{"homepage relative", map[string]any{"name": "ok", "homepageUrl": "/home"}, "app.homepageUrl", "absolute"},
		{"login url userinfo", map[string]any{"name": "ok", "loginUrl": "https://u:p@x.example.com/"}, "app.loginUrl", "user information"},
		{"logout url", map[string]any{"name": "ok", "logoutUrl": "mailto:x@example.com"}, "app.logoutUrl", "absolute"},
		{"webhook over http", map[string]any{"name": "ok", "webhookUrl": "http://hooks.example.com/x"}, "app.webhookUrl", "https"},
		{"unknown permission", map[string]any{"name": "ok", "permissions": []string{"PROXY", "ADMIN"}}, "app.permissions[1]", `"ADMIN"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.admin("POST", "/v1/apps", map[string]any{"app": tc.app})
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			code, field, msg := r.errorOf(t)
			if code != "invalid_argument" || field != tc.field || !strings.Contains(msg, tc.inMessage) {
				t.Fatalf("got %s %s %q, want invalid_argument %s mentioning %q", code, field, msg, tc.field, tc.inMessage)
			}
		})
	}
	t.Run("userinfo is never echoed", func(t *testing.T) {
		r := h.admin("POST", "/v1/apps", map[string]any{"app": redir("https://user:hunter2@app.example.com/cb")})
		if r.status != http.StatusBadRequest || bytes.Contains(r.body, []byte("hunter2")) {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("accepted entries", func(t *testing.T) {
		c := h.create(map[string]any{
			"name": "ok", "allowedDomains": []string{"xn--bcher-kva.de", "app.example.co.uk", "localhost"},
			"allowedRedirectUris": []string{"https://app.example.com/cb?x=1", "http://127.0.0.1:8080/cb", "http://localhost/cb"},
			"permissions":         []string{"PROXY"},
		})
		if fmt.Sprint(c.App["permissions"]) != "[PROXY]" {
			t.Fatalf("permissions = %v", c.App["permissions"])
		}
	})
}

func dom(ds ...string) map[string]any { return map[string]any{"name": "ok", "allowedDomains": ds} }

func redir(us ...string) map[string]any {
	return map[string]any{"name": "ok", "allowedRedirectUris": us}
}

func TestAppsBodyErrors(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, method, path, body string
		code, field              string
	}{
		{"malformed", "POST", "/v1/apps", `{"app":`, "invalid_argument", ""},
		{"not json", "POST", "/v1/apps", `name=x`, "invalid_argument", ""},
		{"unknown top-level field", "POST", "/v1/apps", `{"app":{"name":"ok"},"extra":1}`, "invalid_argument", "extra"},
		{"unknown app field", "POST", "/v1/apps", `{"app":{"name":"ok","nme":"x"}}`, "invalid_argument", "app.nme"},
		{"secret smuggled in", "POST", "/v1/apps", `{"app":{"name":"ok","secretHash":"x"}}`, "invalid_argument", "app.secretHash"},
		{"wrong type", "POST", "/v1/apps", `{"app":{"name":3}}`, "invalid_argument", "app.name"},
		{"wrong list type", "POST", "/v1/apps", `{"app":{"name":"ok","allowedDomains":"x.com"}}`, "invalid_argument", "app.allowedDomains"},
		{"trailing data", "POST", "/v1/apps", `{"app":{"name":"ok"}} {}`, "invalid_argument", ""},
		{"missing app", "POST", "/v1/apps", `{}`, "invalid_argument", "app"},
		{"id on create", "POST", "/v1/apps", `{"app":{"name":"ok","id":"app_x"}}`, "invalid_argument", "app.id"},
		{"too large", "POST", "/v1/apps", `{"app":{"name":"` + strings.Repeat("x", 300<<10) + `"}}`, "payload_too_large", ""},
		{"unknown query field", "POST", "/v1/apps/query", `{"filter":{"name":"x"}}`, "invalid_argument", "filter.name"},
		{"key differs in case", "POST", "/v1/apps", `{"app":{"NAME":"ok"}}`, "invalid_argument", "app.NAME"},
		{"unknown key in a list", "POST", "/v1/apps/query", `{"sort":[{"fieldName":"name","ordr":"DESC"}]}`, "invalid_argument", "sort[0].ordr"},
		{"mask key differs in case", "PATCH", "/v1/apps/app_x", `{"app":{},"mask":{"Paths":["name"]}}`, "invalid_argument", "mask.Paths"},
		{"query wrong type", "POST", "/v1/apps/query", `{"paging":{"limit":"10"}}`, "invalid_argument", "paging.limit"},
		{"unknown mask field", "PATCH", "/v1/apps/app_x", `{"app":{},"mask":{"path":["name"]}}`, "invalid_argument", "mask.path"},
		{"provider wrong type", "PUT", "/v1/apps/app_x/providers/google", `{"clientId":1}`, "invalid_argument", "clientId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.request(tc.method, tc.path, tc.body, bearer(testAdminToken)...)
			code, field, _ := r.errorOf(t)
			if code != tc.code || field != tc.field {
				t.Fatalf("%d %s, want %s field %q", r.status, r.body, tc.code, tc.field)
			}
		})
	}
}

func TestGetApp(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "Getter"})
	r := h.admin("GET", "/v1/apps/"+c.ID, nil)
	if r.status != http.StatusOK || r.json(t)["app"].(map[string]any)["name"] != "Getter" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	stored, err := h.store.GetApp(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{c.Secret, c.WebhookSecret, base64.StdEncoding.EncodeToString(stored.SecretHash),
		fmt.Sprintf("%x", stored.SecretHash), base64.StdEncoding.EncodeToString(stored.WebhookSecret)} {
		if bytes.Contains(r.body, []byte(leak)) {
			t.Fatalf("GET shows a secret or its hash: %s", r.body)
		}
	}
	for _, id := range []string{"app_aaaaaaaaaaaaaaaaaaaaaaaaaa", "nope"} {
		r = h.admin("GET", "/v1/apps/"+id, nil)
		if code, _, _ := r.errorOf(t); r.status != http.StatusNotFound || code != "not_found" {
			t.Fatalf("missing app: %d %s", r.status, r.body)
		}
	}
}
