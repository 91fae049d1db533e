package broker_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
)

// The calendar routes as a hostile app sees them: another app's
// connection is the same 404 as a missing one (no existence oracle), its
// schedules list nothing and its cursors are refused; permissions hold;
// and every malformed, oversized or repeated parameter is a 400 envelope
// naming it, never a provider call with it.
func TestEventsAttackRequests(t *testing.T) {
	// Many calls in a row: the fan-out limit is the next test's.
	d := newDemoBroker(t, func(c *config.Config) { c.Security.RateLimits.Events = config.Rate{} })
	conn := d.connectDemo(t, "s1", "allow").Query().Get("connectionId")
	keyA := "key:" + d.App.ClientSecret
	_, keyB := d.newApp(t, map[string]any{"name": "Intruder"})
	_, readOnly := d.newApp(t, map[string]any{"name": "Reader", "permissions": []string{"CONNECTIONS_READ"}})
	now := d.Now()
	from, to := now.Add(-72*time.Hour).UTC().Format(time.RFC3339), now.Add(96*time.Hour).UTC().Format(time.RFC3339)
	window := "from=" + from + "&to=" + to

	// Another app's connection answers exactly like a missing one.
	missing := send(t, d.URL, "GET", "/v1/connections/con_aaaaaaaaaaaaaaaaaaaaaaaaaa/calendars", keyB, "")
	for _, a := range []answer{
		send(t, d.URL, "GET", "/v1/connections/"+conn+"/calendars", keyB, ""),
		send(t, d.URL, "PUT", "/v1/connections/"+conn+"/calendars", keyB, `{"selected":["demo@example.com"]}`),
	} {
		if a.code != http.StatusNotFound || a.body != missing.body {
			t.Errorf("another app's connection: %d %s, want the missing one's %d %s", a.code, a.body, missing.code, missing.body)
		}
	}
	var page evPage
	a := send(t, d.URL, "GET", "/v1/events?scheduleId=s1&limit=1&"+window, keyA, "")
	if a.code != 200 || json.Unmarshal([]byte(a.body), &page) != nil || page.PagingMetadata.Cursor == "" {
		t.Fatalf("A's events: %d %s", a.code, a.body)
	}
	if a := send(t, d.URL, "GET", "/v1/events?scheduleId=s1&"+window, keyB, ""); a.code != 200 || !strings.Contains(a.body, `"events":[]`) {
		t.Errorf("B lists A's schedule: %d %s", a.code, a.body)
	}
	if a := send(t, d.URL, "GET", "/v1/events?scheduleId=s1&cursor="+url.QueryEscape(page.PagingMetadata.Cursor), keyB, ""); a.code != 400 {
		t.Errorf("B replays A's cursor: %d %s", a.code, a.body)
	} else if _, f, _ := a.envelope(); f != "cursor" {
		t.Errorf("B replays A's cursor: field %q", f)
	}

	// Permissions, and admin tokens are not app credentials.
	for _, tc := range []struct {
		method, path, auth, body string
		want                     int
	}{
		{"GET", "/v1/events?scheduleId=s1&" + window, readOnly, "", 403},
		{"GET", "/v1/freebusy?scheduleId=s1&" + window, readOnly, "", 403},
		{"PUT", "/v1/connections/" + conn + "/calendars", readOnly, `{"selected":["demo@example.com"]}`, 403},
		{"GET", "/v1/events?scheduleId=s1&" + window, d.Admin, "", 401},
		{"GET", "/v1/connections/" + conn + "/calendars", d.Admin, "", 401},
		{"GET", "/v1/freebusy?scheduleId=s1&" + window, "", "", 401},
	} {
		if a := send(t, d.URL, tc.method, tc.path, tc.auth, tc.body); a.code != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, a.code, a.body, tc.want)
		} else if _, _, ok := a.envelope(); !ok {
			t.Errorf("%s %s: not the envelope: %s", tc.method, tc.path, a.body)
		}
	}

	// Input abuse: each is a 400 naming the parameter.
	many := strings.Repeat("scheduleId=s&", 101)
	for _, tc := range []struct{ query, field string }{
		{many + window, "scheduleId"},
		{"scheduleId=a%00b&" + window, "scheduleId"},
		{"scheduleId=a%20b&" + window, "scheduleId"},
		{"scheduleId=%C3%A9&" + window, "scheduleId"},
		{"scheduleId=" + strings.Repeat("x", 257) + "&" + window, "scheduleId"},
		{"scheduleId=&" + window, "scheduleId"},
		{window, "scheduleId"},
		{"scheduleId=s1&" + window + "&timeZone=..%2F..%2Fetc%2Fpasswd", "timeZone"},
		{"scheduleId=s1&" + window + "&timeZone=Local", "timeZone"},
		{"scheduleId=s1&" + window + "&timeZone=%2Fetc%2Flocaltime", "timeZone"},
		{"scheduleId=s1&" + window + "&timeZone=UTC%00", "timeZone"},
		{"scheduleId=s1&" + window + "&timeZone=" + strings.Repeat("A", 4000), "timeZone"},
		{"scheduleId=s1&" + window + "&limit=-1", "limit"},
		{"scheduleId=s1&" + window + "&limit=0", "limit"},
		{"scheduleId=s1&" + window + "&limit=1001", "limit"},
		{"scheduleId=s1&" + window + "&limit=99999999999999999999", "limit"},
		{"scheduleId=s1&" + window + "&limit=1e3", "limit"},
		{"scheduleId=s1&" + window + "&from=" + from, "from"},
		{"scheduleId=s1&" + window + "&fieldset=ALL", "fieldset"},
		{"scheduleId=s1&" + window + "&partialFailure=1", "partialFailure"},
		{"scheduleId=s1&" + window + "&calendarId=x", "calendarId"},
		{"scheduleId=s1&cursor=" + strings.Repeat("A", 6000), "cursor"},
		{"scheduleId=s1&cursor=" + url.QueryEscape(edit(page.PagingMetadata.Cursor)), "cursor"},
		{"scheduleId=s1&from=2026-01-01T00:00:00Z&to=2027-01-03T00:00:00Z", "to"},
		{"scheduleId=s1&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
		{"scheduleId=s1&from=yesterday&to=2026-01-01T00:00:00Z", "from"},
	} {
		a := send(t, d.URL, "GET", "/v1/events?"+tc.query, keyA, "")
		code, field, ok := a.envelope()
		if a.code != 400 || !ok || code != "invalid_argument" || field != tc.field {
			t.Errorf("/v1/events?%.80s: %d %s, want 400 on %s", tc.query, a.code, a.body, tc.field)
		}
	}
	for _, q := range []string{"scheduleId=s1&" + window + "&limit=5", "scheduleId=s1&" + window + "&cursor=x", "scheduleId=a%00b&" + window} {
		if a := send(t, d.URL, "GET", "/v1/freebusy?"+q, keyA, ""); a.code != 400 {
			t.Errorf("/v1/freebusy?%.60s: %d %s", q, a.code, a.body)
		}
	}
	if a := send(t, d.URL, "GET", "/v1/events?scheduleId=s1&from=%zz", keyA, ""); a.code != 400 {
		t.Errorf("malformed query: %d %s", a.code, a.body)
	}
}

// Each call of the calendar routes reads the providers for every
// connection of its schedules, on provider quotas all apps share: an app
// gets security.rateLimits.events of them across the four routes (429 with
// Retry-After, refused before anything is read), and another app keeps its
// own.
func TestEventsFanOutIsRateLimited(t *testing.T) {
	d := newDemoBroker(t, func(c *config.Config) { c.Security.RateLimits.Events = config.Rate{Per: time.Minute, Events: 3} })
	conn := d.connectDemo(t, "s1", "allow").Query().Get("connectionId")
	key := "key:" + d.App.ClientSecret
	_, other := d.newApp(t, map[string]any{"name": "Neighbour"})
	now := d.Now()
	window := "from=" + now.Add(-time.Hour).UTC().Format(time.RFC3339) + "&to=" + now.Add(time.Hour).UTC().Format(time.RFC3339)
	for i, path := range []string{"/v1/events?scheduleId=s1&" + window, "/v1/freebusy?scheduleId=s1&" + window,
		"/v1/connections/" + conn + "/calendars"} {
		if a := send(t, d.URL, "GET", path, key, ""); a.code != 200 {
			t.Fatalf("call %d within the limit: %d %s", i+1, a.code, a.body)
		}
	}
	for _, path := range []string{"/v1/events?scheduleId=s1&" + window, "/v1/freebusy?scheduleId=s1&" + window} {
		a := send(t, d.URL, "GET", path, key, "")
		if code, _, ok := a.envelope(); a.code != http.StatusTooManyRequests || !ok || code != "rate_limited" || a.h.Get("Retry-After") == "" {
			t.Fatalf("%s over the limit: %d %v %s", path, a.code, a.h, a.body)
		}
	}
	if a := send(t, d.URL, "PUT", "/v1/connections/"+conn+"/calendars", key, `{"selected":["demo@example.com"]}`); a.code != http.StatusTooManyRequests {
		t.Fatalf("PUT calendars over the limit: %d %s", a.code, a.body)
	}
	if a := send(t, d.URL, "GET", "/v1/events?scheduleId=s1&"+window, other, ""); a.code != 200 {
		t.Fatalf("the neighbour: %d %s", a.code, a.body)
	}
}
