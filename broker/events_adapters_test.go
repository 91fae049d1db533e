package broker_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
)

// adapterFakes are the identity platform and Graph of Microsoft, and the
// OAuth endpoints and bookings API of Cal.com, each API accepting exactly
// the access tokens its OAuth fake issued and has not expired.
type adapterFakes struct {
	msOAuth, calOAuth *providertest.Server
	graph             *microsofttest.Calendar
	bookings          *calcomtest.Bookings
}

// newAdapterBroker is a demo broker whose catalog entries microsoft and
// calcom point at the fakes: their own adapters (events: microsoft,
// events: calcom) behind the real HTTP stack.
func newAdapterBroker(t *testing.T) (*demoBroker, adapterFakes) {
	f := adapterFakes{
		msOAuth:  microsofttest.New(t, providertest.Options{RotateRefreshTokens: true, TokenLifetime: time.Hour}),
		calOAuth: calcomtest.New(t, providertest.Options{}),
	}
	f.graph = microsofttest.NewCalendar(t, "")
	f.graph.Accept(f.msOAuth.AccessTokenValid)
	f.bookings = calcomtest.NewBookings(t, "")
	f.bookings.Accept(f.calOAuth.AccessTokenValid)
	d := newDemoBroker(t, func(c *config.Config) {
		c.Server.AllowInsecureLoopback = true
		ms, cal := f.msOAuth, f.calOAuth
		c.Providers = map[string]providers.Spec{
			"microsoft": {ClientID: ms.Options().ClientID, ClientSecret: ms.Options().ClientSecret, AuthURL: ms.URL + "/authorize",
				TokenURL: ms.URL + "/token", UserInfoURL: ms.URL + "/userinfo", TestURL: ms.URL + "/userinfo", APIBaseURL: f.graph.URL},
			"calcom": {ClientID: cal.Options().ClientID, ClientSecret: cal.Options().ClientSecret, AuthURL: cal.URL + "/authorize",
				TokenURL: cal.URL + "/token", RefreshURL: cal.URL + "/refresh", UserInfoURL: cal.URL + "/userinfo", TestURL: cal.URL + "/userinfo",
				APIBaseURL: f.bookings.URL},
		}
	})
	var list struct {
		Providers []struct {
			ID       string
			Features struct{ ListEvents bool }
		}
	}
	if code := d.call(t, "GET", "/v1/providers", nil, &list); code != 200 {
		t.Fatalf("providers: %d", code)
	}
	listed := 0
	for _, p := range list.Providers {
		if p.ID == "microsoft" || p.ID == "calcom" {
			listed++
			if !p.Features.ListEvents {
				t.Fatalf("%s says listEvents false", p.ID)
			}
		}
	}
	if listed != 2 {
		t.Fatalf("providers: %+v", list.Providers)
	}
	return d, f
}

// connectVia runs the OAuth flow at an auto-approving fake and returns the
// connection id the demo app landed with.
func (d *demoBroker) connectVia(t *testing.T, providerID, schedule string) string {
	t.Helper()
	var start struct{ OAuthURL string }
	if code := d.call(t, "POST", "/v1/connect/oauth", map[string]string{"providerId": providerID,
		"scheduleId": schedule, "redirectUrl": d.App.RedirectURL}, &start); code != 200 {
		t.Fatalf("connect/oauth %s: %d", providerID, code)
	}
	jar, _ := cookiejar.New(nil)
	var last *url.URL
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error { last = r.URL; return nil }}
	resp, err := browser.Get(start.OAuthURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if last == nil || last.Query().Get("connectionId") == "" {
		t.Fatalf("%s flow ended at %v (%d)", providerID, last, resp.StatusCode)
	}
	return last.Query().Get("connectionId")
}

type adapterEvent struct {
	ID, ConnectionID, ProviderID, CalendarID, Status, Transparency, Title, CalendarName, RecurringEventID string
	AllDay                                                                                                bool
	Start, End                                                                                            struct{ DateTime, TimeZone, Date string }
}

type adapterPage struct {
	Events   []adapterEvent
	Failures []struct{ ConnectionID, Code string }
	Error    struct{ Code string }
}

// getRaw is an app GET whose raw body the test also searches.
func (d *demoBroker) getRaw(t *testing.T, path string, out any) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", d.URL+path, nil)
	req.SetBasicAuth(d.App.App.ID, d.App.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(out); err != nil {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, string(raw)
}

func byTitle(t *testing.T, evs []adapterEvent) map[string]adapterEvent {
	t.Helper()
	m := map[string]adapterEvent{}
	ids := map[string]bool{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Fatalf("event id %s twice", e.ID)
		}
		ids[e.ID] = true
		m[e.Title] = e
	}
	return m
}

func noneOf(t *testing.T, body string, private ...string) {
	t.Helper()
	for _, p := range private {
		if strings.Contains(body, p) {
			t.Errorf("the answer carries %q", p)
		}
	}
}

// Microsoft through the real stack: Graph's calendars and their selection,
// calendarView read across provider pages while the access token expires
// in the middle, showAs, all-day, cancelled and series normalized, nothing
// personal beyond the title, and Graph's 403 and 429 as failures.
func TestEventsThroughMicrosoftAdapter(t *testing.T) {
	d, f := newAdapterBroker(t)
	f.graph.PageSize = 2
	f.graph.AddCalendar("AAMkAD-team", "Team", false, false)
	day := d.Now().UTC().Truncate(24 * time.Hour)
	at := func(h float64) time.Time { return day.Add(time.Duration(h * float64(time.Hour))) }
	f.graph.Add("AAMkAD-default",
		microsofttest.CalEvent{ID: "m1", Subject: "Standup", Start: at(9), End: at(9.5)},
		microsofttest.CalEvent{ID: "m2", Subject: "Maybe lunch", ShowAs: "tentative", Start: at(12), End: at(13)},
		microsofttest.CalEvent{ID: "m3", Subject: "Focus", ShowAs: "free", Start: at(14), End: at(16)},
		microsofttest.CalEvent{ID: "m4", Subject: "Called off", Cancelled: true, Start: at(17), End: at(18)},
		microsofttest.CalEvent{ID: "m5", Subject: "Offsite", ShowAs: "oof", AllDay: true, Start: at(24), End: at(72)},
		microsofttest.CalEvent{ID: "m6", Subject: "Weekly 1:1", Type: "occurrence", SeriesMasterID: "series-1", Start: at(33), End: at(33.5)},
		microsofttest.CalEvent{ID: "m7", Subject: "Next month", Start: at(24 * 40), End: at(24*40 + 1)},
	)
	f.graph.Add("AAMkAD-team", microsofttest.CalEvent{ID: "t1", Subject: "Team sync", ShowAs: "workingElsewhere", Start: at(10), End: at(11)})
	conn := d.connectVia(t, "microsoft", "s-ms")

	var cals struct {
		Calendars []struct {
			ID                          string
			Primary, Selected, ReadOnly bool
		}
	}
	if code := d.call(t, "GET", "/v1/connections/"+conn+"/calendars", nil, &cals); code != 200 || len(cals.Calendars) != 2 ||
		!cals.Calendars[0].Primary || !cals.Calendars[0].Selected || cals.Calendars[1].Selected || !cals.Calendars[1].ReadOnly {
		t.Fatalf("calendars: %d %+v", code, cals)
	}
	if code := d.call(t, "PUT", "/v1/connections/"+conn+"/calendars", map[string]any{"selected": []string{"AAMkAD-default", "AAMkAD-team"}}, nil); code != 200 {
		t.Fatalf("select: %d", code)
	}

	// The token dies after the first page of the default calendar.
	var pages atomic.Int32
	f.graph.Hook = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/AAMkAD-default/calendarView") && pages.Add(1) == 2 {
			f.msOAuth.ExpireAccessTokens()
		}
	}
	refreshes := f.msOAuth.RefreshCalls()
	q := url.Values{"scheduleId": {"s-ms"}, "from": {day.Format(time.RFC3339)}, "to": {day.Add(7 * 24 * time.Hour).Format(time.RFC3339)},
		"limit": {"1000"}, "fieldset": {"OWN_PI"}, "timeZone": {"Europe/Berlin"}}
	var p adapterPage
	code, raw := d.getRaw(t, "/v1/events?"+q.Encode(), &p)
	if code != 200 || len(p.Events) != 7 || len(p.Failures) != 0 {
		t.Fatalf("events: %d %s", code, raw)
	}
	if f.msOAuth.RefreshCalls() == refreshes {
		t.Fatal("the expired token was not refreshed")
	}
	noneOf(t, raw, "guest@contoso.example", "boss@contoso.example", "Secret Street", "Door code", "teams.microsoft.com", "outlook.office365.com")
	ev := byTitle(t, p.Events)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	want := map[string][2]string{"Standup": {"confirmed", "busy"}, "Maybe lunch": {"tentative", "busy"}, "Focus": {"confirmed", "free"},
		"Called off": {"cancelled", "busy"}, "Offsite": {"confirmed", "busy"}, "Weekly 1:1": {"confirmed", "busy"}, "Team sync": {"confirmed", "busy"}}
	for title, w := range want {
		e, ok := ev[title]
		if !ok || e.Status != w[0] || e.Transparency != w[1] || e.ConnectionID != conn || e.ProviderID != "microsoft" {
			t.Errorf("%s: %+v, want %v", title, e, w)
		}
	}
	if s := ev["Standup"]; s.Start.DateTime != at(9).In(berlin).Format(time.RFC3339) || s.Start.TimeZone != "Europe/Berlin" || s.CalendarName != "Calendar" {
		t.Errorf("Standup = %+v", s)
	}
	if o := ev["Offsite"]; !o.AllDay || o.Start.Date != at(24).Format(time.DateOnly) || o.End.Date != at(72).Format(time.DateOnly) || o.Start.DateTime != "" {
		t.Errorf("Offsite = %+v", o)
	}
	if ev["Weekly 1:1"].RecurringEventID != "series-1" || ev["Team sync"].CalendarID != "AAMkAD-team" || ev["Team sync"].CalendarName != "Team" {
		t.Errorf("series / second calendar: %+v %+v", ev["Weekly 1:1"], ev["Team sync"])
	}

	q.Del("fieldset")
	code, raw = d.getRaw(t, "/v1/events?"+q.Encode(), &p)
	if code != 200 || len(p.Events) != 7 {
		t.Fatalf("NO_PI: %d %s", code, raw)
	}
	noneOf(t, raw, "Standup", "Offsite", "Team sync", `"Calendar"`)

	// Graph refusing: a missing scope, then throttling.
	for status, wantCode := range map[int]string{403: "permission_denied", 429: "rate_limited", 503: "upstream_unavailable"} {
		f.graph.FailNext(status, 1)
		q.Set("partialFailure", "true")
		code, raw = d.getRaw(t, "/v1/events?"+q.Encode(), &p)
		if code != 200 || len(p.Failures) != 1 || p.Failures[0].Code != wantCode || p.Failures[0].ConnectionID != conn {
			t.Errorf("%d with partialFailure: %d %s", status, code, raw)
		}
		f.graph.FailNext(status, 1)
		q.Del("partialFailure")
		if code, raw = d.getRaw(t, "/v1/events?"+q.Encode(), &p); code < 400 || p.Error.Code != wantCode {
			t.Errorf("%d: %d %s", status, code, raw)
		}
		noneOf(t, raw, "ErrorAccessDenied", "MailboxConcurrency", "ServiceNotAvailable", "feed")
	}
}

// Cal.com through the real stack: the bookings are one calendar, read with
// the catalog's cal-api-version across provider pages; accepted bookings
// are busy, pending tentative, cancelled and rejected cancelled; nothing
// of the attendees or the booking form ever shows.
func TestEventsThroughCalcomAdapter(t *testing.T) {
	d, f := newAdapterBroker(t)
	f.bookings.PageSize = 2
	day := d.Now().UTC().Truncate(24 * time.Hour)
	at := func(h float64) time.Time { return day.Add(time.Duration(h * float64(time.Hour))) }
	f.bookings.Add(
		calcomtest.Booking{Title: "Intro call", Start: at(9), End: at(9.5)},
		calcomtest.Booking{Title: "Awaiting you", Status: "pending", Start: at(10), End: at(10.5)},
		calcomtest.Booking{Title: "Cancelled call", Status: "cancelled", Start: at(11), End: at(11.5)},
		calcomtest.Booking{Title: "Rejected call", Status: "rejected", Start: at(12), End: at(12.5)},
		calcomtest.Booking{Title: "Night shift", Start: at(-2), End: at(2)},
		calcomtest.Booking{Title: "Weekly coaching", RecurringUID: "rec-1", Start: at(33), End: at(34)},
		calcomtest.Booking{Title: "Last week", Start: at(-150), End: at(-149)},
	)
	conn := d.connectVia(t, "calcom", "s-cal")

	var cals struct {
		Calendars []struct {
			ID                          string
			Primary, Selected, ReadOnly bool
		}
	}
	if code := d.call(t, "GET", "/v1/connections/"+conn+"/calendars", nil, &cals); code != 200 || len(cals.Calendars) != 1 ||
		cals.Calendars[0].ID != "bookings" || !cals.Calendars[0].Selected || !cals.Calendars[0].ReadOnly {
		t.Fatalf("calendars: %d %+v", code, cals)
	}
	q := url.Values{"scheduleId": {"s-cal"}, "from": {day.Format(time.RFC3339)}, "to": {day.Add(3 * 24 * time.Hour).Format(time.RFC3339)},
		"limit": {"1000"}, "fieldset": {"OWN_PI"}}
	var p adapterPage
	code, raw := d.getRaw(t, "/v1/events?"+q.Encode(), &p)
	if code != 200 || len(p.Events) != 6 || len(p.Failures) != 0 {
		t.Fatalf("events: %d %s", code, raw)
	}
	noneOf(t, raw, "attendee.example", "fay@cal.example", "secret-room", "allergic", "+44", "Guest is ill", "Please call")
	ev := byTitle(t, p.Events)
	for title, w := range map[string]string{"Intro call": "confirmed", "Awaiting you": "tentative", "Cancelled call": "cancelled",
		"Rejected call": "cancelled", "Night shift": "confirmed", "Weekly coaching": "confirmed"} {
		e, ok := ev[title]
		if !ok || e.Status != w || e.Transparency != "busy" || e.CalendarID != "bookings" || e.ProviderID != "calcom" || e.ConnectionID != conn {
			t.Errorf("%s: %+v, want %s", title, e, w)
		}
	}
	if n := ev["Night shift"]; n.Start.DateTime != at(-2).Format(time.RFC3339) || n.End.DateTime != at(2).Format(time.RFC3339) {
		t.Errorf("a booking across the window's start: %+v", n)
	}
	if ev["Weekly coaching"].RecurringEventID != "rec-1" {
		t.Errorf("recurring: %+v", ev["Weekly coaching"])
	}
	for i, r := range f.bookings.Requests() {
		if r.APIVersion != calcomtest.APIVersion {
			t.Errorf("call %d without the catalog's cal-api-version: %q", i, r.APIVersion)
		}
	}

	f.bookings.FailNext(403, 1)
	q.Set("partialFailure", "true")
	if code, raw = d.getRaw(t, "/v1/events?"+q.Encode(), &p); code != 200 || len(p.Failures) != 1 || p.Failures[0].Code != "permission_denied" {
		t.Errorf("403 with partialFailure: %d %s", code, raw)
	}
	noneOf(t, raw, "READ_BOOKING", "ForbiddenException")
}
