package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/api"
	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/proxy"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/docs/openapitest"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom/zoomtest"
)

// The end-to-end harness: the real router (api.Register) with app
// authentication, a real SQLite file, the real token manager and key ring,
// and real HTTP providers on loopback. The end user's browser is an
// http.Client with a cookie jar that never follows a redirect by itself:
// each test takes every hop and checks it.

const (
	appRedirect = "https://app.example.com/connected?from=broker"
	appCodeURI  = "https://app.example.com/oauth/code"
	stateKeyID  = "s1"
)

type env struct {
	t      *testing.T
	url    string // the broker's public URL
	st     store.Store
	keys   *secrets.KeyRing
	tok    *tokens.Manager
	apps   *apps.Service
	signer *state.Signer
	// stateSecret is the broker's state key, for tests that sign states
	// the broker would (expired ones).
	stateSecret []byte
	fakes       map[string]*providertest.Server // by provider id
	std         *stdServer
	creds       *credServer
	logs        *syncBuffer // what the connect service logged
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// noneLogged fails when any of the secrets reached the logs.
func (e *env) noneLogged(secrets ...string) {
	e.t.Helper()
	logs := e.logs.String()
	if logs == "" {
		e.t.Error("nothing was logged: the check would prove nothing")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			e.t.Errorf("a secret reached the logs: %.12s…", s)
		}
	}
}

type testApp struct{ id, secret string }

// Provider ids of the harness.
const (
	pStd       = "standard"    // go-oauth2/oauth2 authorization server, PKCE forced
	pGoogle    = "fake-google" // providertest quirks
	pMicrosoft = "fake-microsoft"
	pZoom      = "fake-zoom"
	pCalCom    = "fake-calcom"
	pIss       = "fake-iss"   // sends iss, which matches the configured issuer
	pMixup     = "fake-mixup" // sends an iss that is not the configured issuer
	pOwn       = "fake-own"   // no broker-wide client: only apps with their own
	pAPIKey    = "keyed"      // credentials: API key in a header
	pBasic     = "dav"        // credentials: HTTP Basic
	goodAPIKey = "key-good-0123456789"
	davUser    = "ann@example.com"
	davPass    = "correct horse"
	ownClient  = "app-own-client-id"
	ownSecret  = "app-own-client-secret"
)

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, fakes: map[string]*providertest.Server{}, logs: &syncBuffer{}}

	var engine http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { engine.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e.url = srv.URL

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "broker.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.keys, err = secrets.NewKeyRing(secrets.Key{ID: "e1", Key: randomBytes(32)})
	if err != nil {
		t.Fatal(err)
	}
	e.stateSecret = randomBytes(32)
	e.signer = e.newSigner(e.stateSecret, nil)

	var ps []*providers.Provider
	fake := func(id string, o providertest.Options, edit func(p *providers.Provider)) {
		f := providertest.New(t, o)
		p := f.Provider(t)
		p.ID = id
		if edit != nil {
			edit(p)
		}
		e.fakes[id] = f
		ps = append(ps, p)
	}
	fake(pGoogle, providertest.Options{Wire: googletest.Wire{}, RequirePKCE: true, TokenLifetime: time.Hour}, func(p *providers.Provider) {
		// Without prompt=consent Google sends a refresh token on first consent only.
		delete(p.AuthParams, "prompt")
	})
	fake(pMicrosoft, providertest.Options{Wire: microsofttest.Wire{}, RotateRefreshTokens: true, TokenLifetime: time.Hour}, nil)
	fake(pZoom, providertest.Options{Wire: zoomtest.Wire{}, RotateRefreshTokens: true, TokenLifetime: time.Hour}, nil)
	fake(pCalCom, providertest.Options{Wire: calcomtest.Wire{}}, nil)
	fake(pIss, providertest.Options{Issuer: "https://issuer.example"}, nil)
	fake(pMixup, providertest.Options{Issuer: "https://attacker.example"}, func(p *providers.Provider) {
		p.Issuer = "https://issuer.example"
	})
	fake(pOwn, providertest.Options{ClientID: ownClient, ClientSecret: ownSecret, TokenLifetime: time.Hour}, func(p *providers.Provider) {
		p.ClientID, p.ClientSecret = "", ""
	})
	e.std = newStdServer(t, e.url+"/oauth/callback")
	e.creds = newCredServer(t)
	ps = append(ps, e.std.provider(), e.creds.apiKeyProvider(), e.creds.basicProvider())
	reg := providers.NewRegistry(ps...)

	hc := providers.NewHTTPClient(10 * time.Second)
	d := config.Default()
	e.tok, err = tokens.New(tokens.Options{Store: st, Keys: e.keys, Providers: reg, HTTPClient: hc,
		CacheSize: d.Cache.Tokens, ExpiryMargin: d.Cache.ExpiryMargin.D(), LeaseTTL: d.Refresh.LeaseTTL.D()})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.NewAuthenticator(middleware.AuthOptions{Store: st, CacheSize: 100, CacheTTL: middleware.AppCacheTTL,
		AdminToken: "admin-token-0123456789abcdef0123"})
	if err != nil {
		t.Fatal(err)
	}
	if e.apps, err = apps.New(apps.Options{Store: st, Keys: e.keys, Providers: reg, OnChange: auth.Purge, BeforeDelete: e.tok.RevokeApp}); err != nil {
		t.Fatal(err)
	}
	svc, err := connect.New(connect.Options{
		Store: st, Tokens: e.tok, Providers: reg, State: e.signer, PublicURL: e.url, HTTPClient: hc,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The routes this harness is not about get real services too: the
	// router refuses to leave any group out.
	px, err := proxy.New(proxy.Options{Creds: e.tok, Timeout: d.Proxy.Timeout.D(), MaxRequestBody: int64(d.Proxy.MaxRequestBody)})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhooks.New(webhooks.Options{Store: st, Keys: e.keys, Timeout: d.Webhooks.Timeout.D(),
		Concurrency: d.Webhooks.Concurrency, PollInterval: d.Webhooks.PollInterval.D()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.New(events.Options{Store: st, Tokens: e.tok, Providers: reg, HTTPClient: hc, CursorKey: randomBytes(32),
		CallTimeout: events.DefaultCallTimeout, ListTimeout: events.DefaultListTimeout, PerAccount: events.DefaultPerAccount})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	g := gin.New()
	if err := api.Register(g, api.Deps{Store: st, Auth: auth, Apps: e.apps, Connect: svc, Proxy: px, Webhooks: wh, Events: ev}); err != nil {
		t.Fatal(err)
	}
	// As broker.New does: an unknown path is the error envelope too.
	g.NoRoute(func(c *gin.Context) { middleware.Fail(c, model.Errorf(model.CodeNotFound, "no such endpoint")) })
	engine = openapitest.Wrap(t, g)
	return e
}

// newSigner makes a state signer for this broker; now nil is the real clock.
func (e *env) newSigner(secret []byte, now func() time.Time) *state.Signer {
	e.t.Helper()
	s, err := state.NewSigner(state.Options{
		Keys: []state.Key{{ID: stateKeyID, Secret: secret}}, Issuer: "broker-e2e", Audience: "broker-e2e/callback", Now: now,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newApp registers an app owning app.example.com and appCodeURI.
func (e *env) newApp(perms ...model.Permission) testApp {
	e.t.Helper()
	a, secret, _, err := e.apps.Create(context.Background(), apps.AppInput{
		Name: "Booking app", AllowedDomains: []string{"app.example.com"},
		AllowedRedirectURIs: []string{appCodeURI}, Permissions: perms,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return testApp{id: a.ID, secret: secret}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	return m
}

// errCode returns the envelope's code and field, checking X-Broker-Error.
func (r reply) errCode(t *testing.T) (string, string) {
	t.Helper()
	var b model.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" {
		t.Fatalf("status %d: not an error envelope: %q", r.status, r.body)
	}
	if got := r.header.Get(middleware.HeaderBrokerError); got != string(b.Error.Code) {
		t.Errorf("X-Broker-Error %q, body code %q", got, b.Error.Code)
	}
	return string(b.Error.Code), b.Error.Field
}

// call sends an app-authenticated API request; body is JSON, or raw when a
// string.
func (e *env) call(app testApp, method, path string, body any) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(middleware.HeaderAPIKey, app.secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

// startOAuth posts /v1/connect/oauth and returns the oauthUrl.
func (e *env) startOAuth(app testApp, body map[string]any) string {
	e.t.Helper()
	if body["redirectUrl"] == nil {
		body["redirectUrl"] = appRedirect
	}
	if body["scheduleId"] == nil {
		body["scheduleId"] = "sched-1"
	}
	r := e.call(app, "POST", "/v1/connect/oauth", body)
	if r.status != http.StatusOK {
		e.t.Fatalf("connect/oauth: %d %s", r.status, r.body)
	}
	m := r.obj(e.t)
	u, _ := m["oauthUrl"].(string)
	if !strings.HasPrefix(u, e.url+"/oauth/start/ses_") {
		e.t.Fatalf("oauthUrl %q", u)
	}
	if exp, err := time.Parse(time.RFC3339, m["expiresAt"].(string)); err != nil || time.Until(exp) <= 0 || time.Until(exp) > 11*time.Minute {
		e.t.Fatalf("expiresAt %v (%v)", m["expiresAt"], err)
	}
	return u
}

// browser is an end user's browser: cookies kept, redirects taken by hand.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
}

func (b *browser) get(raw string) reply {
	b.t.Helper()
	res, err := b.c.Get(raw)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: body}
}

// hop GETs raw, expects a redirect with one of the statuses, and returns
// its Location.
func (b *browser) hop(raw string, statuses ...int) string {
	b.t.Helper()
	r := b.get(raw)
	for _, s := range statuses {
		if r.status == s {
			loc := r.header.Get("Location")
			if loc == "" {
				b.t.Fatalf("GET %s: %d without Location", redact(raw), r.status)
			}
			return loc
		}
	}
	b.t.Fatalf("GET %s: status %d, want %v: %s", redact(raw), r.status, statuses, r.body)
	return ""
}

// toProvider takes the oauthUrl hop: the broker binds the browser and sends
// it to the provider's authorize URL.
func (b *browser) toProvider(oauthURL string) string {
	b.t.Helper()
	r := b.get(oauthURL)
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("oauth start: %d %s", r.status, r.body)
	}
	checkRedirectHeaders(b.t, r)
	return r.header.Get("Location")
}

// toCallback lets the provider approve; it answers with the broker's
// callback URL carrying code (or error) and state.
func (b *browser) toCallback(authorizeURL string) string {
	b.t.Helper()
	return b.hop(authorizeURL, http.StatusFound, http.StatusSeeOther)
}

// finish takes the callback hop and returns the app redirect it ends in.
func (b *browser) finish(callbackURL string) *url.URL {
	b.t.Helper()
	r := b.get(callbackURL)
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("callback: %d %s", r.status, r.body)
	}
	checkRedirectHeaders(b.t, r)
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// connect runs a whole flow in a new browser and returns where it ended.
func (e *env) connect(app testApp, body map[string]any) *url.URL {
	e.t.Helper()
	b := newBrowser(e.t)
	return b.finish(b.toCallback(b.toProvider(e.startOAuth(app, body))))
}

// connected asserts the flow ended at the app's redirect URL with a
// connection id (the app's own query kept) and returns the id.
func connected(t *testing.T, back *url.URL) string {
	t.Helper()
	if back.Scheme+"://"+back.Host+back.Path != "https://app.example.com/connected" || back.Query().Get("from") != "broker" {
		t.Fatalf("landed at %s", back)
	}
	if e := back.Query().Get("error"); e != "" {
		t.Fatalf("flow failed: error=%s", e)
	}
	id := back.Query().Get("connectionId")
	if !strings.HasPrefix(id, "con_") {
		t.Fatalf("no connection id in %s", back)
	}
	return id
}

func checkRedirectHeaders(t *testing.T, r reply) {
	t.Helper()
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := r.header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
}

// isErrorPage asserts the broker's 400 HTML page: no redirect.
func isErrorPage(t *testing.T, r reply) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("want the 400 error page, got %d Location=%q", r.status, r.header.Get("Location"))
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("page headers %v", r.header)
	}
}

// redact drops the query of a URL for failure messages (codes, states).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	u.RawQuery = ""
	return u.String()
}

// withParam replaces (or adds) one query parameter.
func withParam(t *testing.T, raw, k, v string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func param(t *testing.T, raw, k string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(k)
}

// counter counts requests to a handler.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { c.n.Add(1); h(w, r) }
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
