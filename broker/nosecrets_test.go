package broker_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
)

// Fixed secrets the test chooses; the ones the broker makes (state, PKCE
// verifier, app secret, webhook secret) are caught as they pass and added.
const (
	sentAdmin        = "SENTINELadminTokenXXXXXXXXXXXXXXXXXXXXXXXX"
	sentStateKey     = "SENTINELstateKeySecretXXXXXXXXXXXXXXXXXXXXX"
	sentClientSecret = "SENTINELclientSecretXXXX"
	sentCode         = "SENTINELauthCodeXXXX"
	sentAccess1      = "SENTINELaccessOneXXXX"
	sentAccess2      = "SENTINELaccessTwoXXXX"
	sentRefresh      = "SENTINELrefreshXXXX"
	sentQueryKey     = "SENTINELqueryValueXXXX"
	sentHookPath     = "SENTINELwebhookPathXXXX" // receivers often take their secret in the path
)

var sentEncKey = base64.StdEncoding.EncodeToString([]byte("SENTINEL-encryption-key-32bytes!"))

// secretProvider is an OAuth 2.0 provider on loopback whose code and tokens
// are the sentinels; it records the PKCE verifier it is sent.
type secretProvider struct {
	srv      *http.Server
	url      string
	mu       sync.Mutex
	verifier string
	refreshs int
}

func newSecretProvider(t *testing.T) *secretProvider {
	p := &secretProvider{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, _ := url.Parse(q.Get("redirect_uri"))
		bq := back.Query()
		bq.Set("code", sentCode)
		bq.Set("state", q.Get("state"))
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if id != "acme-client" || sec != sentClientSecret {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			if r.PostForm.Get("code") != sentCode {
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
				return
			}
			p.mu.Lock()
			p.verifier = r.PostForm.Get("code_verifier")
			p.mu.Unlock()
			// 30 s: inside the broker's 60 s expiry margin, so the first
			// proxied call refreshes.
			_, _ = fmt.Fprintf(w, `{"access_token":%q,"refresh_token":%q,"token_type":"Bearer","expires_in":30}`, sentAccess1, sentRefresh)
		case "refresh_token":
			if r.PostForm.Get("refresh_token") != sentRefresh {
				w.WriteHeader(400)
				_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
				return
			}
			p.mu.Lock()
			p.refreshs++
			p.mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, sentAccess2)
		default:
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		}
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sub":"acct-1","email":"ada@example.com","name":"Ada"}`)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth != "Bearer "+sentAccess1 && auth != "Bearer "+sentAccess2 {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		// The events adapter (Google Calendar v3's wire format).
		case r.URL.Path == "/api/users/me/calendarList":
			_, _ = io.WriteString(w, `{"items":[{"id":"primary-cal","summary":"Ada","primary":true,"accessRole":"owner","timeZone":"UTC"}]}`)
		case strings.HasPrefix(r.URL.Path, "/api/calendars/"):
			_, _ = io.WriteString(w, `{"items":[{"id":"ev1","status":"confirmed","summary":"Dentist",`+
				`"start":{"dateTime":"2026-03-04T10:00:00Z"},"end":{"dateTime":"2026-03-04T11:00:00Z"},"updated":"2026-03-01T00:00:00Z"}]}`)
		default:
			_, _ = io.WriteString(w, `{"items":[]}`)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv = &http.Server{Handler: mux}
	p.url = "http://" + ln.Addr().String()
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// teeHandler writes every record to several handlers: both log formats at
// debug in one run.
type teeHandler []slog.Handler

func (t teeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range t {
		_ = h.Handle(ctx, r.Clone())
	}
	return nil
}
func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (t teeHandler) WithGroup(n string) slog.Handler {
	out := make(teeHandler, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(n)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the broker's concurrent logging.
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

// emitted is a broker serving on a listener with all it emits kept: every
// log record at debug in both formats, every span (always sampled, held in
// memory) and, on demand, the whole /metrics text.
type emitted struct {
	text, js syncBuffer
	exp      *tracetest.InMemoryExporter
	base     string
}

// serveCapturing serves cfg's broker on ln until the test ends.
func serveCapturing(t *testing.T, cfg *config.Config, ln net.Listener) *emitted {
	t.Helper()
	c := &emitted{exp: tracetest.NewInMemoryExporter(), base: "http://" + ln.Addr().String()}
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	logger := slog.New(middleware.NewRequestIDHandler(teeHandler{
		slog.NewTextHandler(&c.text, debug), slog.NewJSONHandler(&c.js, debug)}))
	tel, err := telemetry.New(context.Background(), telemetry.Options{
		Prometheus: true, SpanExporter: c.exp, Sampler: sdktrace.AlwaysSample()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: logger, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-served
		_ = b.Close()
	})
	return c
}

// metrics is the broker's whole /metrics answer.
func (c *emitted) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	return string(m)
}

// spanText is every span so far as text: name, status, attributes, events
// with theirs, resource.
func (c *emitted) spanText() string {
	var out strings.Builder
	for _, s := range c.exp.GetSpans() {
		fmt.Fprintf(&out, "span %q status %q\n", s.Name, s.Status.Description)
		for _, a := range s.Attributes {
			fmt.Fprintf(&out, "  %s=%s\n", a.Key, a.Value.String())
		}
		for _, e := range s.Events {
			fmt.Fprintf(&out, "  event %q\n", e.Name)
			for _, a := range e.Attributes {
				fmt.Fprintf(&out, "    %s=%s\n", a.Key, a.Value.String())
			}
		}
		if s.Resource != nil {
			for _, a := range s.Resource.Attributes() {
				fmt.Fprintf(&out, "  resource %s=%s\n", a.Key, a.Value.String())
			}
		}
	}
	return out.String()
}

// output is one captured stream, by name.
type output struct{ name, body string }

// assertNoSecrets fails for an output that captured nothing (it would
// prove nothing) and for every secret found in one, by its name.
func assertNoSecrets(t *testing.T, outs []output, secrets map[string]string) {
	t.Helper()
	for _, out := range outs {
		if out.body == "" {
			t.Errorf("%s: captured nothing", out.name)
		}
		for what, v := range secrets {
			if i := strings.Index(out.body, v); i >= 0 {
				lo, hi := max(i-200, 0), min(i+len(v)+100, len(out.body))
				t.Errorf("the %s appears in the %s:\n…%s…", what, out.name, out.body[lo:hi])
			}
		}
	}
}

// No secret escapes: connect, refresh, proxy, events, free/busy and webhook delivery run
// through the real HTTP stack with every secret a known value, and no log
// line (debug, text and JSON), no span (name, attributes, events, status,
// resource) and nothing on /metrics contains one.
func TestNoSecretEscapes(t *testing.T) {
	prov := newSecretProvider(t)
	rc := newHookReceiver(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Store.DSN = ""
	cfg.Server.PublicURL = base
	cfg.Server.AllowInsecureLoopback = true
	cfg.Refresh.KeepAlive.Enabled = false
	cfg.Log = config.Log{Level: "debug", Format: "json"}
	cfg.Security.AdminToken = sentAdmin
	cfg.Security.StateKeys = []config.Key{{ID: "s1", Secret: sentStateKey}}
	cfg.Security.EncryptionKeys = []config.Key{{ID: "e1", Key: sentEncKey}}
	yes := true
	cfg.Providers = map[string]providers.Spec{"acme": {
		Kind: providers.KindOAuth2, Name: "Acme", Enabled: &yes,
		ClientID: "acme-client", ClientSecret: sentClientSecret,
		AuthURL: prov.url + "/authorize", TokenURL: prov.url + "/token",
		UserInfoURL: prov.url + "/userinfo", APIBaseURL: prov.url + "/api",
		Scopes: []string{"read"}, PKCE: &yes, Events: "google",
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	capt := serveCapturing(t, cfg, ln)

	secrets := map[string]string{
		"admin token": sentAdmin, "state key": sentStateKey, "encryption key": sentEncKey,
		"client secret": sentClientSecret, "authorization code": sentCode,
		"access token": sentAccess1, "refreshed access token": sentAccess2,
		"refresh token": sentRefresh, "query value sent to the proxy": sentQueryKey,
		"webhook URL path": sentHookPath,
	}
	call := func(method, path, auth string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		if k, ok := strings.CutPrefix(auth, "key:"); ok {
			req.Header.Set("X-Api-Key", k)
		} else if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	// An app with a webhook receiver: its client and webhook secrets are
	// secrets too.
	const redirect = "http://localhost:9/connected"
	code, created := call("POST", "/v1/apps", sentAdmin, map[string]any{"app": map[string]any{
		"name": "Booking", "webhookUrl": rc.URL + "/hooks/" + sentHookPath, "allowedRedirectUris": []string{redirect}}})
	if code != http.StatusCreated {
		t.Fatalf("create app: %d %v", code, created)
	}
	appKey := created["clientSecret"].(string)
	secrets["app secret"] = appKey
	if ws, _ := created["webhookSecret"].(string); ws != "" {
		secrets["webhook secret"] = ws
		secrets["webhook secret key"] = strings.TrimPrefix(ws, "whsec_")
	}

	// Connect: the browser follows the broker to the provider and back.
	code, started := call("POST", "/v1/connect/oauth", "key:"+appKey, map[string]any{
		"providerId": "acme", "scheduleId": "s1", "redirectUrl": redirect})
	if code != 200 {
		t.Fatalf("connect: %d %v", code, started)
	}
	jar, _ := cookiejar.New(nil)
	var landed *url.URL
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if st := r.URL.Query().Get("state"); st != "" && r.URL.Host == prov.url[len("http://"):] {
			secrets["state"] = st
		}
		if r.URL.Host == "localhost:9" {
			landed = r.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(started["oauthUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if landed == nil || landed.Query().Get("connectionId") == "" {
		t.Fatalf("the flow did not come back connected: %v", landed)
	}
	if secrets["state"] == "" {
		t.Fatal("never saw the state on its way to the provider")
	}
	prov.mu.Lock()
	if prov.verifier != "" {
		secrets["PKCE verifier"] = prov.verifier
	}
	prov.mu.Unlock()
	conn := landed.Query().Get("connectionId")

	// Proxy: the first call refreshes (the token was inside the margin),
	// with a query value the provider might consider a key.
	code, _ = call("GET", "/proxy/"+conn+"/items?api_key="+sentQueryKey, "key:"+appKey, nil)
	if code != 200 {
		t.Fatalf("proxy: %d", code)
	}
	prov.mu.Lock()
	refreshed := prov.refreshs
	prov.mu.Unlock()
	if refreshed != 1 {
		t.Fatalf("%d refreshes, want 1", refreshed)
	}
	// Events and free/busy: the adapter's calls carry the access token.
	for _, path := range []string{"/v1/events?fieldset=OWN_PI&", "/v1/freebusy?"} {
		code, body := call("GET", path+"scheduleId=s1&from=2026-03-04T00:00:00Z&to=2026-03-05T00:00:00Z",
			"key:"+appKey, nil)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, body)
		}
	}
	// A wrong credential, a wrong admin token and a scan of unknown paths
	// are logged too.
	call("GET", "/proxy/"+conn+"/items", "key:"+appKey+"x", nil)
	call("GET", "/v1/apps", sentAdmin+"x", nil)
	call("GET", "/no/such/"+sentQueryKey, "", nil)

	// Webhooks: connection.created went out; a test delivery too.
	rc.wait(t, 1)
	call("POST", "/v1/webhooks/test", "key:"+appKey, nil)
	rc.wait(t, 2)
	time.Sleep(100 * time.Millisecond) // the worker records the attempt after the answer

	_, _ = call("GET", "/healthz", "", nil)
	metrics := []byte(capt.metrics(t))
	if !bytes.Contains(metrics, []byte("broker_token_refreshes_total")) || !bytes.Contains(metrics, []byte("broker_webhook_deliveries_total")) || !bytes.Contains(metrics, []byte("broker_events_fanout_duration")) ||
		!bytes.Contains(metrics, []byte(`broker_connect_flows_total{provider="acme",result="connected"}`)) {
		t.Errorf("/metrics lacks the flows this test ran:\n%s", metrics)
	}

	spans := capt.exp.GetSpans()
	names := map[string]bool{}
	for _, s := range spans {
		names[s.Name] = true
	}
	for _, want := range []string{"POST /v1/connect/oauth", "GET /oauth/callback", "broker.token.refresh", "broker.webhook.deliver", "GET /v1/events", "GET /v1/freebusy", "broker.events.call", "HTTP POST", "HTTP GET"} {
		if !names[want] {
			t.Errorf("no span %q among %v", want, keys(names))
		}
	}
	if !strings.Contains(capt.text.String(), "level=DEBUG") && !strings.Contains(capt.js.String(), `"level":"DEBUG"`) {
		t.Log("no debug record was written; the capture ran at debug all the same")
	}
	assertNoSecrets(t, []output{
		{"text log", capt.text.String()}, {"JSON log", capt.js.String()}, {"spans", capt.spanText()}, {"/metrics", string(metrics)},
	}, secrets)
	if t.Failed() {
		t.Logf("%d spans, %d bytes of text log, %d of JSON log, %d of metrics", len(spans), len(capt.text.String()), len(capt.js.String()), len(metrics))
	}
}
