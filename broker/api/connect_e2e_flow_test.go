package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestConnectStandardAuthorizationServer(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	b := newBrowser(t)
	oauthURL := e.startOAuth(app, map[string]any{"providerId": pStd, "scheduleId": "sched-1", "appState": "resume=42&x"})
	if strings.Contains(oauthURL, "state=") || strings.Contains(oauthURL, "?") {
		t.Fatalf("oauthUrl carries more than the session id: %s", oauthURL)
	}

	start := b.get(oauthURL)
	if start.status != http.StatusSeeOther {
		t.Fatalf("start: %d %s", start.status, start.body)
	}
	checkRedirectHeaders(t, start)
	setCookie := start.header.Get("Set-Cookie")
	for _, attr := range []string{"broker_bind_ses_", "Path=/oauth", "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("binding cookie %q lacks %s", setCookie, attr)
		}
	}
	authorize := start.header.Get("Location")
	if !strings.HasPrefix(authorize, e.std.URL+"/authorize?") {
		t.Fatalf("start went to %s", redact(authorize))
	}
	if param(t, authorize, "code_challenge_method") != "S256" || param(t, authorize, "code_challenge") == "" {
		t.Error("no PKCE S256 challenge on the authorize URL")
	}
	if got := param(t, authorize, "redirect_uri"); got != e.url+"/oauth/callback" {
		t.Errorf("redirect_uri %q", got)
	}
	cookies := b.c.Jar.Cookies(mustURL(t, e.url+"/oauth/callback"))
	if len(cookies) != 1 || !strings.HasPrefix(cookies[0].Name, "broker_bind_") {
		t.Fatalf("binding cookie for /oauth: %v", cookies)
	}
	if got := b.c.Jar.Cookies(mustURL(t, e.url+"/v1/connections")); len(got) != 0 {
		t.Errorf("binding cookie leaks outside /oauth: %v", got)
	}

	callback := b.toCallback(authorize)
	if !strings.HasPrefix(callback, e.url+"/oauth/callback?") {
		t.Fatalf("provider sent the browser to %s", redact(callback))
	}
	back := b.finish(callback)
	id := connected(t, back)
	e.noneLogged(param(t, callback, "code"), param(t, callback, "state"), param(t, authorize, "code_challenge"))
	if got := back.Query().Get("appState"); got != "resume=42&x" {
		t.Errorf("appState %q", got)
	}
	if n := e.std.tokens.n.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}

	r := e.call(app, "GET", "/v1/connections/"+id, nil)
	if r.status != http.StatusOK {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	c := r.obj(t)
	if c["id"] != id || c["providerId"] != pStd || c["scheduleId"] != "sched-1" || c["status"] != "CONNECTED" {
		t.Errorf("connection %v", c)
	}
	acct := c["account"].(map[string]any)
	if acct["email"] != "std-user@example.com" || acct["name"] != "Standard User" {
		t.Errorf("account %v", acct)
	}
	if sc, _ := c["scopes"].([]any); len(sc) != 1 || sc[0] != "read" {
		t.Errorf("scopes %v", c["scopes"])
	}
	for _, secret := range []string{"accessToken", "refreshToken", "token", "credentials", "accountId"} {
		if _, ok := c[secret]; ok {
			t.Errorf("connection carries %q", secret)
		}
	}
	if bytesContain(r.body, "access") || bytesContain(r.body, "refresh_token") {
		t.Errorf("connection body mentions a token: %s", r.body)
	}

	r = e.call(app, "POST", "/v1/connections/"+id+"/test", nil)
	if r.status != http.StatusOK || r.obj(t)["ok"] != true {
		t.Errorf("test: %d %s", r.status, r.body)
	}

	// The same account again, for the same schedule: same connection.
	if again := connected(t, e.connect(app, map[string]any{"providerId": pStd})); again != id {
		t.Errorf("reconnect made %s, want %s", again, id)
	}
	// Another schedule: another connection.
	if other := connected(t, e.connect(app, map[string]any{"providerId": pStd, "scheduleId": "sched-2"})); other == id {
		t.Error("another schedule reused the connection")
	}
}

func bytesContain(b []byte, s string) bool {
	return strings.Contains(strings.ToLower(string(b)), strings.ToLower(s))
}
