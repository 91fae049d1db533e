package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/demo"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/docs/openapitest"
)

// demoBroker is a broker with the demo on, served on a real listener whose
// address is its publicUrl, with a clock the test moves.
type demoBroker struct {
	URL    string
	App    broker.DemoApp
	Admin  string // the development admin token
	mu     sync.Mutex
	now    time.Time
	broker *broker.Broker
}

func (d *demoBroker) Now() time.Time { d.mu.Lock(); defer d.mu.Unlock(); return d.now }
func (d *demoBroker) Advance(by time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.now.Add(by)
}

func newDemoBroker(t *testing.T, edit func(*config.Config)) *demoBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &demoBroker{URL: "http://" + ln.Addr().String(), now: time.Now()}
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Server.PublicURL = d.URL
	cfg.Refresh.KeepAlive.Enabled = false
	cfg.Demo = true
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := broker.PrepareSecrets(cfg, quiet); err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: quiet, Now: d.Now})
	if err != nil {
		t.Fatal(err)
	}
	d.broker, d.Admin = b, cfg.Security.AdminToken
	srv := httptest.NewUnstartedServer(openapitest.Wrap(t, b.Handler()))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = b.Close() })
	if d.App, err = b.EnsureDemoApp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// call sends an app request with the demo app's credentials.
func (d *demoBroker) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.URL+path, rd)
	req.SetBasicAuth(d.App.App.ID, d.App.ClientSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(raw, out) != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

var demoRequest = regexp.MustCompile(`name="request" value="([^"]+)"`)

// connectDemo runs the OAuth flow with a cookie-keeping browser that
// presses decision, and returns where the broker finally sent it.
func (d *demoBroker) connectDemo(t *testing.T, schedule, decision string) *url.URL {
	t.Helper()
	var start struct{ OAuthURL string }
	if code := d.call(t, "POST", "/v1/connect/oauth", map[string]string{"providerId": demo.ProviderID,
		"scheduleId": schedule, "redirectUrl": d.App.RedirectURL}, &start); code != 200 {
		t.Fatalf("connect/oauth: %d", code)
	}
	jar, _ := cookiejar.New(nil)
	var last *url.URL
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error { last = r.URL; return nil }}
	resp, err := browser.Get(start.OAuthURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := demoRequest.FindSubmatch(page)
	if m == nil || !strings.HasPrefix(resp.Request.URL.String(), d.URL+"/demo/authorize?") {
		t.Fatalf("not on the demo's authorize page: %s\n%s", resp.Request.URL, page)
	}
	resp, err = browser.PostForm(d.URL+"/demo/authorize", url.Values{"request": {string(m[1])}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || last == nil {
		t.Fatalf("after %s: %d at %v", decision, resp.StatusCode, last)
	}
	return last
}

// The whole demo through the real HTTP stack: Allow lands on the demo app
// with a connectionId, /proxy reads the calendar, and after the short-lived
// access token expires the broker refreshes it (the refresh token rotates)
// without the app noticing. Deny lands with error=reject.
func TestDemoConnectProxyRefresh(t *testing.T) {
	d := newDemoBroker(t, nil)
	got := d.connectDemo(t, "demo-schedule", "allow")
	conn := got.Query().Get("connectionId")
	if got.Path != "/demo/app" || conn == "" {
		t.Fatalf("landed on %s", got)
	}
	var c struct {
		Status          string
		Account         struct{ Email string }
		LastRefreshedAt time.Time
	}
	if code := d.call(t, "GET", "/v1/connections/"+conn, nil, &c); code != 200 || c.Status != "CONNECTED" || c.Account.Email != demo.Account.Email {
		t.Fatalf("connection: %d %+v", code, c)
	}
	var evs struct {
		Items []struct{ ID, Summary string }
	}
	if code := d.call(t, "GET", "/proxy/"+conn+"/calendars/primary/events?singleEvents=true&orderBy=startTime", nil, &evs); code != 200 || len(evs.Items) < 5 {
		t.Fatalf("proxy events: %d %+v", code, evs)
	}
	connectedAt := c.LastRefreshedAt
	for i := 0; i < 3; i++ {
		d.Advance(demo.DefaultAccessTokenTTL + time.Minute)
		var cl struct{ Items []struct{ ID string } }
		if code := d.call(t, "GET", "/proxy/"+conn+"/users/me/calendarList", nil, &cl); code != 200 || len(cl.Items) != 2 {
			t.Fatalf("after %d expiries: %d %+v", i+1, code, cl)
		}
	}
	if code := d.call(t, "GET", "/v1/connections/"+conn, nil, &c); code != 200 || c.Status != "CONNECTED" ||
		c.LastRefreshedAt.Sub(connectedAt) < 3*demo.DefaultAccessTokenTTL {
		t.Fatalf("after refreshes: %d %+v (connected %v)", code, c, connectedAt)
	}

	got = d.connectDemo(t, "demo-schedule-2", "deny")
	if got.Path != "/demo/app" || got.Query().Get("error") != "reject" || got.Query().Has("connectionId") {
		t.Fatalf("deny landed on %s", got)
	}
}
