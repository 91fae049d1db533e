package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers/providertest"
)

const testPublicURL = "http://broker.test"

func pxHardened(t *testing.T, tweak func(*config.Config)) *pxEnv {
	return newPxEnvWith(t, func(c *config.Config) {
		c.Server.PublicURL = testPublicURL
		if tweak != nil {
			tweak(c)
		}
	})
}

func echoOf(t *testing.T, body string) providertest.Echo {
	t.Helper()
	var e providertest.Echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an echo: %s", body)
	}
	return e
}

// Request headers pass by allow list (docs/security.md §9): URL-rewrite,
// client-address, method-override and unknown headers never reach the
// provider next to the injected credential; what a calendar API needs does.
func TestProxyHeaderAllowList(t *testing.T) {
	e := pxHardened(t, nil)
	hostile := []string{
		"X-Original-URL", "/admin", "X-Rewrite-URL", "/admin", "X-Original-URI", "/admin",
		"X-Envoy-Original-Path", "/admin", "X-Original-Host", "internal.svc", "X-Host", "internal.svc",
		"X-HTTP-Method-Override", "DELETE", "Base-Url-Override", "https://evil.example", "Client-IP", "127.0.0.1",
		"True-Client-IP", "127.0.0.1", "CF-Connecting-IP", "127.0.0.1", "Via", "1.1 internal", "X-Custom-Thing", "1",
		"X_Original_URL", "/admin", "Origin", "https://evil.example", "Referer", "https://evil.example/x",
	}
	wanted := []string{"Accept", "application/json", "If-None-Match", `"etag-1"`, "Depth", "1",
		"User-Agent", "booking-app/1.0", "Accept-Language", "de", "Range", "bytes=0-10"}
	resp, body := e.do(t, "GET", "/proxy/"+e.conn+"/calendars", "", append(append([]string{"X-Api-Key", e.secret}, hostile...), wanted...)...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := echoOf(t, body).Headers
	for i := 0; i < len(hostile); i += 2 {
		if _, ok := got[http.CanonicalHeaderKey(hostile[i])]; ok {
			t.Errorf("the provider received %s", hostile[i])
		}
	}
	for i := 0; i < len(wanted); i += 2 {
		if v := got[http.CanonicalHeaderKey(wanted[i])]; len(v) != 1 || v[0] != wanted[i+1] {
			t.Errorf("%s = %v, want %q", wanted[i], v, wanted[i+1])
		}
	}
	if a := got["Authorization"]; len(a) != 1 || !strings.HasPrefix(a[0], "Bearer ") {
		t.Errorf("credential not injected: %v", a)
	}
}

// A WebDAV Destination names a location of the same connection and is
// rewritten to the provider's URL through the path builder; anything else
// is 400 and never reaches the provider.
func TestProxyDestinationConfined(t *testing.T) {
	e := pxHardened(t, nil)
	other := model.NewID(model.PrefixConnection) // another connection's id
	base := e.fake.URL + "/api"
	ok := []struct{ dest, want string }{
		{testPublicURL + "/proxy/" + e.conn + "/dav/cal/b.ics", base + "/dav/cal/b.ics"},
		{"/proxy/" + e.conn + "/dav/cal/b%20c.ics", base + "/dav/cal/b%20c.ics"},
		{"/api/dav/cal/c.ics", base + "/dav/cal/c.ics"},
	}
	for _, tc := range ok {
		resp, body := e.do(t, "COPY", "/proxy/"+e.conn+"/dav/cal/a.ics", "", "X-Api-Key", e.secret, "Destination", tc.dest, "Overwrite", "T")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Destination %s: %d %s", tc.dest, resp.StatusCode, body)
		}
		if d := echoOf(t, body).Headers["Destination"]; len(d) != 1 || d[0] != tc.want {
			t.Errorf("Destination %s reached the provider as %v, want %s", tc.dest, d, tc.want)
		}
	}
	refused := []string{
		"https://evil.example/x", base + "/dav/x", strings.Replace(base, "127.0.0.1", "localhost", 1) + "/dav/x",
		"/admin", "/api/../admin", "/api/%2e%2e/admin", "/api/dav/..%2F..%2Fadmin", "/proxy/" + e.conn + "/../../x",
		"/proxy/" + other + "/dav/x", testPublicURL + "/proxy/" + other + "/dav/x", "http://BROKER.test.evil/proxy/" + e.conn + "/x",
		testPublicURL + "@evil.example/proxy/" + e.conn + "/x", "/api/dav/x?y=1", "/api/dav/x#f", "//evil.example/api/x",
		"/api/dav/%00x", "", "dav/x",
	}
	for _, d := range refused {
		for _, m := range []string{"COPY", "MOVE"} {
			before := e.fake.APICalls()
			resp, body := e.do(t, m, "/proxy/"+e.conn+"/dav/cal/a.ics", "", "X-Api-Key", e.secret, "Destination", d, "Overwrite", "T")
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Broker-Error") != "invalid_argument" {
				t.Errorf("%s Destination %q: %d %s, want 400 invalid_argument", m, d, resp.StatusCode, body)
			}
			if e.fake.APICalls() != before {
				t.Errorf("%s Destination %q reached the provider", m, d)
			}
		}
	}
	resp, _ := e.do(t, "COPY", "/proxy/"+e.conn+"/dav/a", "", "X-Api-Key", e.secret, "Destination", "/api/dav/b", "Destination", "/api/dav/c")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("two Destinations: %d", resp.StatusCode)
	}
	resp, _ = e.do(t, "DELETE", "/proxy/"+e.conn+"/dav/a", "", "X-Api-Key", e.secret, "If", "<https://evil.example/x> (<urn:uuid:1>)")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("If with a tagged resource: %d", resp.StatusCode)
	}
	resp, body := e.do(t, "DELETE", "/proxy/"+e.conn+"/dav/a", "", "X-Api-Key", e.secret, "If", "(<urn:uuid:1> [\"etag\"])")
	if resp.StatusCode != http.StatusOK || echoOf(t, body).Headers["If"] == nil {
		t.Errorf("If with a state token only: %d %s", resp.StatusCode, body)
	}
}

// Proxied responses are inert on the broker's origin, and a provider
// cannot make the broker hold large response heads (docs/security.md §10).
func TestProxyResponsesInert(t *testing.T) {
	e := pxHardened(t, func(c *config.Config) { c.Proxy.MaxResponseHeaderBytes = 64 << 10 })
	resp, _ := e.do(t, "GET", "/proxy/"+e.conn+"/calendars", "", "X-Api-Key", e.secret)
	// Exactly one nosniff: the broker's middleware sets one on every answer
	// and the proxy replaces the provider's, so neither may add a second.
	if v := resp.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" || !strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("proxied response headers: %v", resp.Header)
	}
	resp, body := e.do(t, "GET", "/proxy/"+e.conn+"/untyped", "", "X-Api-Key", e.secret)
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" || !strings.Contains(body, "<script>") {
		t.Errorf("an untyped body came back as %q", ct)
	}
	if v := resp.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
		t.Errorf("the provider's X-Content-Type-Options came back as %q", v)
	}
	resp, body = e.do(t, "GET", "/proxy/"+e.conn+"/bigheaders?bytes=60000", "", "X-Api-Key", e.secret)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("headers under the bound: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", "/proxy/"+e.conn+"/bigheaders?bytes=100000", "", "X-Api-Key", e.secret)
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Broker-Error") != "upstream_unavailable" {
		t.Errorf("headers over the bound: %d %s", resp.StatusCode, body)
	}
	// The broker's own 401 offers browsers no Basic login box.
	resp, _ = e.do(t, "GET", "/proxy/"+e.conn+"/calendars", "")
	if resp.StatusCode != http.StatusUnauthorized || strings.HasPrefix(strings.ToLower(resp.Header.Get("WWW-Authenticate")), "basic") {
		t.Errorf("own 401: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// A token the provider rejects is force-refreshed at most once per
// connection per cooldown (docs/security.md §20), for /proxy and /test; a
// forced refresh that fails for good answers 409 needs_reauth at once.
func TestProxyRejectedTokenCooldown(t *testing.T) {
	e := pxHardened(t, func(c *config.Config) { c.Refresh.RejectedCooldown = config.Duration(time.Hour) })
	before := e.fake.TokenCalls()
	for range 30 {
		resp, _ := e.do(t, "GET", "/proxy/"+e.conn+"/status/401", "", "X-Api-Key", e.secret)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want the provider's 401", resp.StatusCode)
		}
	}
	if n := e.fake.TokenCalls() - before; n != 1 {
		t.Errorf("30 rejected calls made %d token requests, want 1", n)
	}
	resp, body := e.do(t, "POST", "/v1/connections/"+e.conn+"/test", "", "X-Api-Key", e.secret)
	if resp.StatusCode != http.StatusOK || e.fake.TokenCalls()-before != 1 {
		t.Errorf("test within the cooldown: %d %s, token calls %d", resp.StatusCode, body, e.fake.TokenCalls()-before)
	}

	dead := pxHardened(t, nil) // default cooldown; a fresh connection
	dead.fake.FailNextRefresh("invalid_grant")
	resp, body = dead.do(t, "GET", "/proxy/"+dead.conn+"/status/401", "", "X-Api-Key", dead.secret)
	if resp.StatusCode != http.StatusConflict || resp.Header.Get("X-Broker-Error") != "needs_reauth" {
		t.Errorf("dead grant: %d %s, want 409 needs_reauth", resp.StatusCode, body)
	}
}

// One app cannot fill the sessions table: starting sessions is rate
// limited per app, and unfinished ones are capped, both answered 429
// rate_limited with Retry-After (docs/security.md §22).
func TestConnectSessionLimits(t *testing.T) {
	e := pxHardened(t, func(c *config.Config) {
		c.Security.RateLimits.Sessions = config.Rate{Per: time.Second, Events: 1000}
		c.Security.RateLimits.MaxPendingSessions = 5
	})
	allowRedirects(t, e)
	start := func() (*http.Response, string) {
		body := `{"providerId":"fake","scheduleId":"s1","redirectUrl":"https://app.example.com/cb"}`
		return e.do(t, "POST", "/v1/connect/oauth", body, "X-Api-Key", e.secret, "Content-Type", "application/json")
	}
	for i := range 5 {
		if resp, body := start(); resp.StatusCode != http.StatusOK {
			t.Fatalf("session %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := start()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "unfinished") {
		t.Fatalf("over the cap: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	r := pxHardened(t, func(c *config.Config) { c.Security.RateLimits.Sessions = config.Rate{Per: time.Minute, Events: 3} })
	allowRedirects(t, r)
	limited := 0
	for range 10 {
		body := `{"providerId":"fake","scheduleId":"s1","redirectUrl":"https://app.example.com/cb"}`
		resp, _ := r.do(t, "POST", "/v1/connect/oauth", body, "X-Api-Key", r.secret, "Content-Type", "application/json")
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" {
			limited++
		}
	}
	if limited != 7 {
		t.Errorf("%d of 10 starts limited at 3/min, want 7", limited)
	}
}

func allowRedirects(t *testing.T, e *pxEnv) {
	t.Helper()
	if _, err := e.st.UpdateApp(context.Background(), e.appID, func(a model.App) (model.App, error) {
		a.AllowedDomains = []string{"app.example.com"}
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// After a provider's interim answer (103 Early Hints here) the final
// answer keeps the broker's X-Request-Id (ReverseProxy clears the writer's
// headers after a 1xx) and exactly one nosniff, and no interim answer
// carries the provider's headers (docs/security.md §10).
func TestProxyInterimResponsesInert(t *testing.T) {
	e := pxHardened(t, nil)
	var interim []textproto.MIMEHeader
	var codes []int
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			codes = append(codes, code)
			interim = append(interim, textproto.MIMEHeader(http.Header(h).Clone()))
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/proxy/"+e.conn+"/earlyhints", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", e.secret)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"final":true}` {
		t.Fatalf("final answer %d %s", resp.StatusCode, body)
	}
	// Gin's writer holds a 1xx back (broker/proxy's own test covers the
	// interim answers an embedding app's writer does send); whatever
	// arrives carries none of the provider's headers.
	for i, h := range interim {
		for _, name := range []string{"Set-Cookie", "X-Broker-Error", "Link"} {
			if v := h.Values(name); len(v) > 0 {
				t.Errorf("interim answer %d (%d) carried the provider's %s: %q", i, codes[i], name, v)
			}
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("the final answer lost X-Request-Id after the 103: %v", resp.Header)
	}
	if v := resp.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
		t.Errorf("final X-Content-Type-Options %q", v)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) > 0 {
		t.Errorf("final answer carries a cookie: %q", v)
	}
}
