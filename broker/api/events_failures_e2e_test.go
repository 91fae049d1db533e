package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/events/eventstest"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers/google/googletest"
)

// evOne gives every account of the bench one event at hour h+i.
func evOne(b *eventstest.Bench) {
	for i, a := range b.Accounts {
		a.Calendar.Add("primary@example.com", googletest.CalEvent{ID: fmt.Sprint("e", i), Summary: "busy", Start: at(float64(10 + i)), End: at(float64(10+i) + 0.5)})
	}
}

// A provider that answers 5xx, runs past the per-call deadline, refuses
// with 403 (a missing scope) or 429 is a failure with the broker's code:
// listed beside the healthy connections' events with partialFailure=true,
// the call's own error without it, on /v1/events and /v1/freebusy alike.
// A failing connection adds no event and no busy time.
func TestEventsProviderFailures(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{Accounts: 2, CallTimeout: 300 * time.Millisecond})
	app := b.NewApp(t)
	evOne(b)
	healthy := b.Connect(t, app, "s1", 0)
	bad := b.Connect(t, app, "s1", 1)
	fake := b.Accounts[1].Calendar
	for _, c := range []struct {
		name   string
		setup  func()
		code   model.Code
		status int
	}{
		{"503", func() { fake.Fail(503, -1) }, model.CodeUpstreamUnavailable, 502},
		{"500", func() { fake.Fail(500, -1) }, model.CodeUpstreamUnavailable, 502},
		{"timeout", func() { fake.SetDelay(2 * time.Second) }, model.CodeUpstreamTimeout, 504},
		{"403 missing scope", func() { fake.Fail(403, -1) }, model.CodePermissionDenied, 403},
		{"429", func() { fake.Fail(429, -1) }, model.CodeRateLimited, 429},
	} {
		c.setup()
		for _, path := range []string{"/v1/events", "/v1/freebusy"} {
			q := evWindow(evBase, at(24), "scheduleId", "s1", "partialFailure", "true")
			start := time.Now()
			code, p, raw := evGet(t, b, app, path, q)
			if took := time.Since(start); c.name == "timeout" && took > 1500*time.Millisecond {
				t.Errorf("%s %s took %v: the per-call deadline (300 ms) was not kept", c.name, path, took)
			}
			if code != 200 || len(p.Failures) != 1 || p.Failures[0].ConnectionID != bad.ID || p.Failures[0].ProviderID != b.Accounts[1].ProviderID ||
				p.Failures[0].Code != string(c.code) || p.Failures[0].Message == "" {
				t.Errorf("%s %s partial: %d %s", c.name, path, code, raw)
			}
			if path == "/v1/events" && (len(p.Events) != 1 || p.Events[0].ConnectionID != healthy.ID) {
				t.Errorf("%s: events %s, want the healthy connection's one", c.name, raw)
			}
			if path == "/v1/freebusy" && (len(p.Busy) != 1 || p.Busy[0].Start != at(10).Format(time.RFC3339)) {
				t.Errorf("%s: busy %s, want the healthy connection's only", c.name, raw)
			}
			if strings.Contains(raw, "Backend Error") || strings.Contains(raw, "Rate Limit") || strings.Contains(raw, "insufficient") {
				t.Errorf("%s: the provider's words reached the app: %s", c.name, raw)
			}
			q.Del("partialFailure")
			code, p, raw = evGet(t, b, app, path, q)
			if code != c.status || p.Error.Code != string(c.code) || len(p.Events) != 0 {
				t.Errorf("%s %s without partialFailure: %d %s, want %d %s", c.name, path, code, raw, c.status, c.code)
			}
		}
		fake.Fail(0, 0)
		fake.SetDelay(0)
	}
	if code, p, raw := evGet(t, b, app, "/v1/events", evWindow(evBase, at(24), "scheduleId", "s1")); code != 200 || len(p.Events) != 2 {
		t.Fatalf("after recovery: %d %s", code, raw)
	}
}

// A NEEDS_REAUTH connection is not called: it is a needs_reauth failure
// (the call's 409 without partialFailure); a DISCONNECTED one is not
// called either and is no failure. Its provider counts zero requests.
func TestEventsDeadConnectionsAreNotCalled(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{Accounts: 3})
	app := b.NewApp(t)
	evOne(b)
	b.Connect(t, app, "s1", 0)
	reauth := b.Connect(t, app, "s1", 1)
	gone := b.Connect(t, app, "s1", 2)
	b.SetStatus(t, reauth.ID, model.StatusNeedsReauth)
	b.SetStatus(t, gone.ID, model.StatusDisconnected)
	for _, path := range []string{"/v1/events", "/v1/freebusy"} {
		code, p, raw := evGet(t, b, app, path, evWindow(evBase, at(24), "scheduleId", "s1", "partialFailure", "true"))
		if code != 200 || len(p.Failures) != 1 || p.Failures[0].ConnectionID != reauth.ID || p.Failures[0].Code != "needs_reauth" {
			t.Errorf("%s: %d %s", path, code, raw)
		}
		if path == "/v1/events" && len(p.Events) != 1 {
			t.Errorf("events: %s, want the connected one's only", raw)
		}
		code, p, raw = evGet(t, b, app, path, evWindow(evBase, at(24), "scheduleId", "s1"))
		if code != 409 || p.Error.Code != "needs_reauth" {
			t.Errorf("%s without partialFailure: %d %s", path, code, raw)
		}
	}
	for _, id := range []string{reauth.ID, gone.ID} {
		if code, _, raw := evGet(t, b, app, "/v1/connections/"+id+"/calendars", nil); code != 409 {
			t.Errorf("calendars of %s: %d %s", id, code, raw)
		}
	}
	if n1, n2 := b.Accounts[1].Calendar.Calls(), b.Accounts[2].Calendar.Calls(); n1 != 0 || n2 != 0 {
		t.Fatalf("the NEEDS_REAUTH provider got %d requests, the DISCONNECTED one %d; want none", n1, n2)
	}
	if b.Accounts[0].Calendar.Calls() == 0 {
		t.Fatal("the connected provider was not read either: the test proves nothing")
	}
}

// A token that expires in the middle of a listing is refreshed once and
// the listing goes on: between broker pages (the broker's clock passes the
// expiry, so it refreshes before the call), and between provider pages
// (the provider stops taking it, the broker gets a 401, refreshes once and
// retries).
func TestEventsTokenExpiresMidListing(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{})
	app := b.NewApp(t)
	acct := b.Accounts[0]
	acct.Calendar.PageSize = 2
	for i := range 9 {
		acct.Calendar.Add("primary@example.com", googletest.CalEvent{ID: fmt.Sprintf("e%d", i), Start: at(float64(i)), End: at(float64(i) + 0.5)})
	}
	// The broker takes the grant to expire in four minutes.
	tok := b.Mint(0)
	tok.Expiry = b.Now().Add(4 * time.Minute)
	b.ConnectToken(t, app, "s1", 0, tok)
	q := evWindow(evBase, at(24), "scheduleId", "s1", "limit", "4")

	// Between broker pages.
	code, p, raw := evGet(t, b, app, "/v1/events", q)
	if code != 200 || len(p.Events) != 4 || acct.OAuth.RefreshCalls() != 0 {
		t.Fatalf("first page: %d %s (refreshes %d)", code, raw, acct.OAuth.RefreshCalls())
	}
	b.Advance(3 * time.Minute) // inside the token manager's expiry margin
	n := len(p.Events)
	for p.PagingMetadata.HasNext {
		code, p, raw = evGet(t, b, app, "/v1/events", map[string][]string{"scheduleId": {"s1"}, "cursor": {p.PagingMetadata.Cursor}, "limit": {"4"}})
		if code != 200 {
			t.Fatalf("after expiry: %d %s", code, raw)
		}
		n += len(p.Events)
	}
	if n != 9 || acct.OAuth.RefreshCalls() != 1 {
		t.Fatalf("listed %d of 9 with %d refreshes, want all with 1", n, acct.OAuth.RefreshCalls())
	}

	// Between provider pages: the provider kills every token it issued
	// when the second page of events is asked for.
	var pages atomic.Int32
	acct.Calendar.OnRequest = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") && r.URL.Query().Get("pageToken") != "" && pages.Add(1) == 1 {
			acct.OAuth.ExpireAccessTokens()
		}
	}
	code, p, raw = evGet(t, b, app, "/v1/events", evWindow(evBase, at(24), "scheduleId", "s1", "limit", "100"))
	if code != 200 || len(p.Events) != 9 || len(p.Failures) != 0 || pages.Load() == 0 {
		t.Fatalf("across provider pages: %d %s", code, raw)
	}
	if got := acct.OAuth.RefreshCalls(); got != 2 {
		t.Fatalf("%d refreshes in all, want 2 (one per expiry)", got)
	}
}
