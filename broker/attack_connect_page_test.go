package broker_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/oauthbroker/broker/broker/connect"
)

// A hosted page is no password-guessing oracle: it submits at most
// connect.MaxPageAttempts credentials to the provider, in sequence or all
// at once, then it is spent (429 "Too many attempts", then the page is
// gone) and not even the right password connects through it; a new page
// works.
func TestConnectPageBoundsPasswordGuessing(t *testing.T) {
	pb := newPageBroker(t)
	open := func(schedule string) (*browser, string, string) {
		t.Helper()
		_, out := pb.session(t, map[string]any{"scheduleId": schedule, "redirectUrl": pb.redirect, "providers": []string{"caldav"}})
		u, _ := out["connectUrl"].(string)
		b := newBrowser(t)
		_, body, _ := b.do("GET", u+"?provider=caldav", nil)
		m := csrfField.FindStringSubmatch(body)
		if u == "" || m == nil {
			t.Fatalf("no credentials form: %v\n%s", out, body)
		}
		return b, u, m[1]
	}
	try := func(b *browser, u, csrf, password string) (int, string) {
		code, body, _ := b.do("POST", u, url.Values{"csrf": {csrf}, "provider": {"caldav"},
			"username": {"ada@example.com"}, "password": {password}})
		return code, body
	}
	connections := func(schedule string) int {
		t.Helper()
		var out struct{ Connections []json.RawMessage }
		a := send(t, pb.URL, "GET", "/v1/connections?scheduleId="+schedule, "key:"+pb.secret, "")
		if a.code != 200 || json.Unmarshal([]byte(a.body), &out) != nil {
			t.Fatalf("connections: %d %s", a.code, a.body)
		}
		return len(out.Connections)
	}

	// One after the other: the form comes back until the bound.
	b, u, csrf := open("guess-1")
	before := pb.dav.Requests("PROPFIND")
	for i := 0; i < connect.MaxPageAttempts; i++ {
		if code, body := try(b, u, csrf, "guess-"+string(rune('a'+i))); code != 400 || !strings.Contains(body, "did not accept") {
			t.Fatalf("wrong password %d: %d\n%s", i+1, code, body)
		}
	}
	code, body := try(b, u, csrf, "right-horse-battery")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many attempts") {
		t.Fatalf("attempt past the bound: %d\n%s", code, body)
	}
	if n := pb.dav.Requests("PROPFIND") - before; n != connect.MaxPageAttempts {
		t.Fatalf("the provider checked %d passwords, want %d", n, connect.MaxPageAttempts)
	}
	if code, _, _ := b.do("GET", u, nil); code != 400 {
		t.Fatalf("the page after too many attempts: %d, want it spent", code)
	}
	if n := connections("guess-1"); n != 0 {
		t.Fatalf("%d connections through a spent page", n)
	}

	// All at once: counted before the provider is asked, so no more pass.
	b, u, csrf = open("guess-2")
	before = pb.dav.Requests("PROPFIND")
	var wg sync.WaitGroup
	for i := 0; i < 4*connect.MaxPageAttempts; i++ {
		wg.Go(func() { try(b, u, csrf, "parallel-guess") })
	}
	wg.Wait()
	if n := pb.dav.Requests("PROPFIND") - before; n > connect.MaxPageAttempts {
		t.Fatalf("%d parallel guesses reached the provider, want at most %d", n, connect.MaxPageAttempts)
	}

	// A new page is a new budget.
	b, u, csrf = open("guess-3")
	if code, _ := try(b, u, csrf, "right-horse-battery"); code != http.StatusSeeOther || connections("guess-3") != 1 {
		t.Fatalf("a fresh page with the right password: %d", code)
	}
}

// Sessions do not cross: a page's form token works for that page only (two
// pages in one browser), a page id is no OAuth flow (/oauth/start) and an
// OAuth session is no page; a POST another site sends is refused before
// anything is looked at.
func TestConnectPageSessionsDoNotCross(t *testing.T) {
	pb := newPageBroker(t)
	open := func(schedule string) (string, string, *browser) {
		t.Helper()
		_, out := pb.session(t, map[string]any{"scheduleId": schedule, "redirectUrl": pb.redirect})
		u, _ := out["connectUrl"].(string)
		b := newBrowser(t)
		_, body, _ := b.do("GET", u, nil)
		m := csrfField.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no page at %q:\n%s", u, body)
		}
		return u, m[1], b
	}
	uA, csrfA, b := open("cross-a")
	_, out := pb.session(t, map[string]any{"scheduleId": "cross-b", "redirectUrl": pb.redirect})
	uB := out["connectUrl"].(string)
	_, bodyB, _ := b.do("GET", uB, nil)
	csrfB := csrfField.FindStringSubmatch(bodyB)[1]
	if code, _, _ := b.do("POST", uA, url.Values{"csrf": {csrfB}, "provider": {"demo"}}); code != http.StatusForbidden {
		t.Errorf("page A with page B's token: %d, want 403", code)
	}
	if code, _, _ := b.do("GET", pb.URL+"/oauth/start/"+uA[strings.LastIndex(uA, "/")+1:], nil); code != 400 {
		t.Errorf("a page id at /oauth/start: %d, want 400", code)
	}
	var start struct{ OAuthURL string }
	if code := pb.call(t, "POST", "/v1/connect/oauth", map[string]string{"providerId": "demo", "scheduleId": "cross-c",
		"redirectUrl": pb.App.RedirectURL}, &start); code != 200 {
		t.Fatalf("connect/oauth: %d", code)
	}
	if code, _, _ := newBrowser(t).do("GET", pb.URL+"/connect/"+start.OAuthURL[strings.LastIndex(start.OAuthURL, "/")+1:], nil); code != 400 {
		t.Errorf("an OAuth session id as a page: %d, want 400", code)
	}
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"}} {
		req, _ := http.NewRequest("POST", uA, strings.NewReader(url.Values{"csrf": {csrfA}, "provider": {"demo"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %v: %d, want 403", h, resp.StatusCode)
		}
	}
	if code, _, _ := b.do("GET", uA, nil); code != 200 {
		t.Errorf("refused requests spent page A: %d", code)
	}
}
