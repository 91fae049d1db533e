package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/docs/openapitest"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/providertest"
)

// pxEnv is the whole broker (broker.New, Gin, middleware, app auth, token
// manager on SQLite, proxy) in front of a fake provider's echo API.
type pxEnv struct {
	fake   *providertest.Server
	srv    *httptest.Server
	conn   string
	secret string // an app with PROXY
	noPx   string // an app without it
	appID  string // the app of secret, owner of conn
	b      *broker.Broker
	st     *sqlite.Store
	cfg    *config.Config
}

func newPxEnv(t *testing.T) *pxEnv { t.Helper(); return newPxEnvWith(t, nil) }

// newPxEnvWith is newPxEnv with the config changed by tweak first.
func newPxEnvWith(t *testing.T, tweak func(*config.Config)) *pxEnv {
	t.Helper()
	ctx := context.Background()
	fake := providertest.New(t, providertest.Options{TokenLifetime: time.Hour})
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Server.AllowInsecureLoopback = true
	cfg.Security.AdminToken = "admin-token-for-the-proxy-test-0123456789"
	cfg.Security.StateKeys = []config.Key{{ID: "s1", Secret: "state-secret-for-the-proxy-test-0123456789"}}
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Security.EncryptionKeys = []config.Key{{ID: "e1", Key: key}}
	cfg.Refresh.KeepAlive.Enabled = false
	cfg.Providers = map[string]providers.Spec{"fake": fake.Spec()}
	if tweak != nil {
		tweak(cfg)
	}
	st, err := sqlite.Open(ctx, sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	b, err := broker.New(ctx, cfg, broker.Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	e := &pxEnv{fake: fake, b: b, st: st, cfg: cfg}
	mkApp := func(perms ...model.Permission) (string, string) {
		id := model.NewID(model.PrefixApp)
		secret, hash, err := secrets.NewAppSecret(id)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := st.CreateApp(ctx, model.App{ID: id, Name: "px", Permissions: perms, SecretHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		return id, secret
	}
	appID, secret := mkApp(model.AllPermissions...)
	e.appID, e.secret = appID, secret
	_, e.noPx = mkApp(model.PermConnectionsRead)
	c, _, err := b.Tokens().Save(ctx, model.Connection{AppID: appID, ProviderID: "fake", ScheduleID: "s1",
		AccountID: fake.AccountID(""), ClientSource: model.ClientBroker}, fake.Mint(""))
	if err != nil {
		t.Fatal(err)
	}
	e.conn = c.ID
	e.srv = httptest.NewServer(openapitest.Wrap(t, b.Handler()))
	t.Cleanup(e.srv.Close)
	return e
}

// do sends target as the request line, byte for byte.
func (e *pxEnv) do(t *testing.T, method, target, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = target // sent as is: nothing cleans "..", "//" or escapes
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestProxyRoute(t *testing.T) {
	e := newPxEnv(t)
	key := func(s string) []string { return []string{"X-Api-Key", s} }
	cases := []struct {
		name, method, target string
		headers              []string
		status               int
		brokerErr            string // X-Broker-Error, "" for the provider's own answer
		path                 string // what the provider saw
	}{
		{"GET", "GET", "/proxy/" + e.conn + "/calendars/primary?x=1", key(e.secret), 200, "", "/api/calendars/primary"},
		{"PROPFIND routed", "PROPFIND", "/proxy/" + e.conn + "/dav/cal/", append(key(e.secret), "Depth", "1"), 200, "", "/api/dav/cal/"},
		{"REPORT routed", "REPORT", "/proxy/" + e.conn + "/dav/cal/", key(e.secret), 200, "", "/api/dav/cal/"},
		{"MKCALENDAR routed", "MKCALENDAR", "/proxy/" + e.conn + "/dav/new/", key(e.secret), 200, "", "/api/dav/new/"},
		{"no credentials", "GET", "/proxy/" + e.conn + "/x", nil, 401, "unauthenticated", ""},
		{"without PROXY permission", "GET", "/proxy/" + e.conn + "/x", key(e.noPx), 403, "permission_denied", ""},
		{"unknown connection", "GET", "/proxy/con_aaaaaaaaaaaaaaaaaaaaaaaaaa/x", key(e.secret), 404, "not_found", ""},
		{"raw dot segments", "GET", "/proxy/" + e.conn + "/../../admin", key(e.secret), 400, "invalid_argument", ""},
		{"encoded dot segments", "GET", "/proxy/" + e.conn + "/%2e%2e/%2e%2e/admin", key(e.secret), 400, "invalid_argument", ""},
		{"encoded slashes", "GET", "/proxy/" + e.conn + "/v3/..%2F..%2Fadmin", key(e.secret), 400, "invalid_argument", ""},
		{"scheme-relative", "GET", "/proxy/" + e.conn + "//evil.com/x", key(e.secret), 400, "invalid_argument", ""},
		{"NUL", "GET", "/proxy/" + e.conn + "/x%00y", key(e.secret), 400, "invalid_argument", ""},
		{"at sign stays a path", "GET", "/proxy/" + e.conn + "/@evil.com/x", key(e.secret), 200, "", "/api/@evil.com/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fake.APICalls()
			resp, body := e.do(t, tc.method, tc.target, "", tc.headers...)
			if resp.StatusCode != tc.status || resp.Header.Get("X-Broker-Error") != tc.brokerErr {
				t.Fatalf("status %d, X-Broker-Error %q; want %d %q: %s", resp.StatusCode, resp.Header.Get("X-Broker-Error"), tc.status, tc.brokerErr, body)
			}
			if tc.path == "" {
				if n := e.fake.APICalls() - before; n != 0 {
					t.Fatalf("the provider was called %d times", n)
				}
				return
			}
			var echo providertest.Echo
			if err := json.Unmarshal([]byte(body), &echo); err != nil {
				t.Fatal(err)
			}
			if echo.Path != tc.path || echo.Method != tc.method {
				t.Fatalf("provider saw %s %s, want %s %s", echo.Method, echo.Path, tc.method, tc.path)
			}
			for name := range echo.Headers {
				if l := strings.ToLower(name); l == "x-api-key" || strings.HasPrefix(l, "x-forwarded") {
					t.Fatalf("the provider received %s", name)
				}
			}
			if len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Fatalf("Set-Cookie came back")
			}
		})
	}
}
