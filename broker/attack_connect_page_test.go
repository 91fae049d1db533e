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
