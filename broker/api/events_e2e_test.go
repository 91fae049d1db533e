package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/events/eventstest"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers/google/googletest"
)

// The events routes through the real router against Google accounts on
// loopback (broker/events/eventstest): input validation, the normalized
// event and what never appears in it, the cursor, failures, tokens expiring
// mid-listing. Free/busy against events is a property test in broker/events.

// evBase is a Saturday before Europe's spring DST change (2026-03-29).
var evBase = time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC)

type evTime struct{ DateTime, TimeZone, Date string }

type evEvent struct {
	ID, ConnectionID, ProviderID, CalendarID, Status, Transparency string
	RecurringEventID, Updated, Title, CalendarName                 string
	AllDay                                                         bool
	Start, End                                                     evTime
}

type evFailure struct{ ConnectionID, ProviderID, Code, Message string }

type evPage struct {
	Events         []evEvent
	PagingMetadata struct {
		Cursor  string
		HasNext bool
	}
	Busy     []struct{ Start, End string }
	Failures []evFailure
	Error    struct{ Code, Field, Message string }
}

func evGet(t *testing.T, b *eventstest.Bench, app eventstest.App, path string, q url.Values) (int, evPage, string) {
	t.Helper()
	code, body := b.Get(t, app, path, q)
	var p evPage
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: %d %s", path, code, body)
	}
	return code, p, string(body)
}

func evWindow(from, to time.Time, more ...string) url.Values {
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	for i := 0; i+1 < len(more); i += 2 {
		q[more[i]] = append(q[more[i]], more[i+1])
	}
	return q
}

func at(h float64) time.Time { return evBase.Add(time.Duration(h * float64(time.Hour))) }

// Every parameter is checked, and a bad one is invalid_argument naming it;
// the limits themselves are accepted.
func TestEventsValidation(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{})
	app := b.NewApp(t)
	conn := b.Connect(t, app, "s1", 0)
	var hundred, hundredOne []string
	for i := range 101 {
		hundredOne = append(hundredOne, fmt.Sprint("s", i))
	}
	hundred = hundredOne[:100]
	w := func(more ...string) url.Values {
		return evWindow(evBase, evBase.Add(24*time.Hour), append([]string{"scheduleId", "s1"}, more...)...)
	}
	bad := []struct {
		name, path string
		q          url.Values
		field      string
	}{
		{"no scheduleId", "/v1/events", evWindow(evBase, at(24)), "scheduleId"},
		{"101 schedules", "/v1/events", func() url.Values { q := w(); q["scheduleId"] = hundredOne; return q }(), "scheduleId"},
		{"empty scheduleId", "/v1/events", func() url.Values { q := w(); q["scheduleId"] = []string{""}; return q }(), "scheduleId"},
		{"no from", "/v1/events", url.Values{"scheduleId": {"s1"}, "to": {at(1).Format(time.RFC3339)}}, "from"},
		{"no to", "/v1/events", url.Values{"scheduleId": {"s1"}, "from": {at(1).Format(time.RFC3339)}}, "to"},
		{"from not RFC 3339", "/v1/events", url.Values{"scheduleId": {"s1"}, "from": {"2026-03-28"}, "to": {at(1).Format(time.RFC3339)}}, "from"},
		{"to not RFC 3339", "/v1/events", url.Values{"scheduleId": {"s1"}, "from": {at(0).Format(time.RFC3339)}, "to": {"tomorrow"}}, "to"},
		{"to equals from", "/v1/events", evWindow(at(5), at(5), "scheduleId", "s1"), "to"},
		{"to before from", "/v1/events", evWindow(at(5), at(4), "scheduleId", "s1"), "to"},
		{"367 days", "/v1/events", evWindow(evBase, evBase.AddDate(0, 0, 367), "scheduleId", "s1"), "to"},
		{"limit 0", "/v1/events", w("limit", "0"), "limit"},
		{"limit 1001", "/v1/events", w("limit", "1001"), "limit"},
		{"limit not a number", "/v1/events", w("limit", "ten"), "limit"},
		{"fieldset", "/v1/events", w("fieldset", "ALL"), "fieldset"},
		{"partialFailure", "/v1/events", w("partialFailure", "yes"), "partialFailure"},
		{"timeZone unknown", "/v1/events", w("timeZone", "Mars/Olympus_Mons"), "timeZone"},
		{"timeZone Local", "/v1/events", w("timeZone", "Local"), "timeZone"},
		{"timeZone a path", "/v1/events", w("timeZone", "../../etc/passwd"), "timeZone"},
		{"unknown parameter", "/v1/events", w("q", "x"), "q"},
		{"from twice", "/v1/events", w("from", at(2).Format(time.RFC3339)), "from"},
		{"cursor garbage", "/v1/events", url.Values{"scheduleId": {"s1"}, "cursor": {"not-a-cursor"}}, "cursor"},
		{"freebusy limit", "/v1/freebusy", w("limit", "10"), "limit"},
		{"freebusy cursor", "/v1/freebusy", w("cursor", "x"), "cursor"},
		{"freebusy fieldset", "/v1/freebusy", w("fieldset", "OWN_PI"), "fieldset"},
		{"freebusy 367 days", "/v1/freebusy", evWindow(evBase, evBase.AddDate(0, 0, 367), "scheduleId", "s1"), "to"},
		{"freebusy timeZone", "/v1/freebusy", w("timeZone", "CEST"), "timeZone"},
		{"calendars fieldset", "/v1/connections/" + conn.ID + "/calendars", url.Values{"fieldset": {"ALL"}}, "fieldset"},
		{"calendars unknown", "/v1/connections/" + conn.ID + "/calendars", url.Values{"limit": {"1"}}, "limit"},
	}
	for _, c := range bad {
		code, p, body := evGet(t, b, app, c.path, c.q)
		if code != 400 || p.Error.Code != "invalid_argument" || p.Error.Field != c.field {
			t.Errorf("%s: %d %s, want 400 invalid_argument field %s", c.name, code, body, c.field)
		}
	}
	calls := b.Accounts[0].Calendar.Calls()
	for name, q := range map[string]url.Values{
		"100 schedules": func() url.Values { q := w(); q["scheduleId"] = hundred; return q }(),
		"366 days":      evWindow(evBase, evBase.AddDate(0, 0, 366), "scheduleId", "s1"),
		"limit 1000":    w("limit", "1000", "fieldset", "OWN_PI", "partialFailure", "false", "timeZone", "America/Argentina/Buenos_Aires"),
	} {
		if code, _, body := evGet(t, b, app, "/v1/events", q); code != 200 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if b.Accounts[0].Calendar.Calls() == calls {
		t.Error("the valid queries never reached the provider")
	}
}

// The fake answers every event with attendees, organizer, description,
// location and a Meet link: none reach the app, in either fieldset; the
// title and calendar name only with OWN_PI; free/busy has no title, id or
// calendar at all. All-day events are dates, timed ones are in timeZone
// across the DST change.
func TestEventsNormalizedAndPrivate(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{})
	app := b.NewApp(t)
	cal := b.Accounts[0].Calendar
	cal.AddCalendar("team@group.calendar.google.com", "Team calendar", false)
	priv := googletest.CalEvent{Description: "Secret agenda", Location: "Room 101"}
	ev := func(id, summary string, st, en time.Time) googletest.CalEvent {
		e := priv
		e.ID, e.Summary, e.Start, e.End = id, summary, st, en
		return e
	}
	confirmed := ev("a1", "Dentist", at(9), at(10))
	tentative := ev("a2", "Maybe lunch", at(12), at(13))
	tentative.Status = "tentative"
	free := ev("a3", "Focus", at(14), at(15))
	free.Transparency = "transparent"
	cancelled := ev("a4", "Standup", at(33), at(33.25)) // after the DST change
	cancelled.Status, cancelled.RecurringEventID = "cancelled", "standup"
	allDay := priv
	allDay.ID, allDay.Summary, allDay.Date, allDay.EndDate = "a5", "Holiday", "2026-03-29", "2026-03-30"
	cal.Add("primary@example.com", confirmed, tentative, free, cancelled, allDay)
	cal.Add("team@group.calendar.google.com", ev("t1", "Team sync", at(9.5), at(11)))
	conn := b.Connect(t, app, "s1", 0, "primary@example.com", "team@group.calendar.google.com")

	q := evWindow(evBase, evBase.Add(48*time.Hour), "scheduleId", "s1", "timeZone", "Europe/Berlin")
	code, nopi, raw := evGet(t, b, app, "/v1/events", q)
	if code != 200 || len(nopi.Events) != 6 || nopi.PagingMetadata.HasNext || len(nopi.Failures) != 0 {
		t.Fatalf("NO_PI: %d %s", code, raw)
	}
	q.Set("fieldset", "OWN_PI")
	code, own, rawOwn := evGet(t, b, app, "/v1/events", q)
	if code != 200 || len(own.Events) != 6 {
		t.Fatalf("OWN_PI: %d %s", code, rawOwn)
	}
	code, fb, rawFB := evGet(t, b, app, "/v1/freebusy", evWindow(evBase, evBase.Add(48*time.Hour), "scheduleId", "s1", "timeZone", "Europe/Berlin"))
	if code != 200 {
		t.Fatalf("freebusy: %d %s", code, rawFB)
	}
	for _, body := range []string{raw, rawOwn, rawFB} {
		for _, never := range []string{"guest@example.com", "boss@example.com", "meet.google.com", "Secret agenda", "Room 101",
			"attendees", "organizer", "description", "location", "hangoutLink"} {
			if strings.Contains(body, never) {
				t.Errorf("%q reached the app: %s", never, body)
			}
		}
	}
	for _, never := range []string{"Dentist", "Team calendar", "Ann's calendar", "primary@example.com", "ev_", "a1", `"id"`} {
		if strings.Contains(rawFB, never) {
			t.Errorf("free/busy shows %q: %s", never, rawFB)
		}
	}
	for _, e := range nopi.Events {
		if e.Title != "" || e.CalendarName != "" || strings.Contains(raw, "Dentist") {
			t.Fatalf("NO_PI shows personal data: %+v", e)
		}
	}
	byTitle := map[string]evEvent{}
	for i, e := range own.Events {
		if e.ID != nopi.Events[i].ID {
			t.Fatalf("the fieldset changed the order: %s vs %s", e.ID, nopi.Events[i].ID)
		}
		if e.ConnectionID != conn.ID || e.ProviderID != b.Accounts[0].ProviderID || e.Updated != "2026-01-01T00:00:00Z" || !strings.HasPrefix(e.ID, "ev_") {
			t.Errorf("event %+v", e)
		}
		byTitle[e.Title] = e
	}
	want := map[string]struct {
		status, transp, cal, calName, start, end string
	}{
		"Dentist":     {"confirmed", "busy", "primary@example.com", "Ann's calendar", "2026-03-28T10:00:00+01:00", "2026-03-28T11:00:00+01:00"},
		"Maybe lunch": {"tentative", "busy", "primary@example.com", "Ann's calendar", "2026-03-28T13:00:00+01:00", "2026-03-28T14:00:00+01:00"},
		"Focus":       {"confirmed", "free", "primary@example.com", "Ann's calendar", "2026-03-28T15:00:00+01:00", "2026-03-28T16:00:00+01:00"},
		"Standup":     {"cancelled", "busy", "primary@example.com", "Ann's calendar", "2026-03-29T11:00:00+02:00", "2026-03-29T11:15:00+02:00"},
		"Team sync":   {"confirmed", "busy", "team@group.calendar.google.com", "Team calendar", "2026-03-28T10:30:00+01:00", "2026-03-28T12:00:00+01:00"},
	}
	for title, w := range want {
		e := byTitle[title]
		if e.Status != w.status || e.Transparency != w.transp || e.CalendarID != w.cal || e.CalendarName != w.calName || e.AllDay ||
			e.Start != (evTime{DateTime: w.start, TimeZone: "Europe/Berlin"}) || e.End != (evTime{DateTime: w.end, TimeZone: "Europe/Berlin"}) {
			t.Errorf("%s = %+v, want %+v", title, e, w)
		}
	}
	if e := byTitle["Standup"]; e.RecurringEventID != "standup" {
		t.Errorf("recurringEventId = %q", e.RecurringEventID)
	}
	if e := byTitle["Holiday"]; !e.AllDay || e.Start != (evTime{Date: "2026-03-29"}) || e.End != (evTime{Date: "2026-03-30"}) {
		t.Errorf("all-day = %+v", e)
	}
	// Sorted by start: the all-day event starts at midnight in Berlin, before the Standup.
	order := []string{"Dentist", "Team sync", "Maybe lunch", "Focus", "Holiday", "Standup"}
	for i, e := range own.Events {
		if e.Title != order[i] {
			t.Fatalf("order %d = %s, want %s", i, e.Title, order[i])
		}
	}
	// Busy: Dentist+Team sync coalesced, lunch (tentative), the holiday in
	// Berlin; not Focus (free), not the cancelled Standup.
	wantBusy := [][2]string{
		{"2026-03-28T10:00:00+01:00", "2026-03-28T12:00:00+01:00"},
		{"2026-03-28T13:00:00+01:00", "2026-03-28T14:00:00+01:00"},
		{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"},
	}
	if len(fb.Busy) != len(wantBusy) {
		t.Fatalf("busy = %+v, want %v", fb.Busy, wantBusy)
	}
	for i, w := range wantBusy {
		if fb.Busy[i].Start != w[0] || fb.Busy[i].End != w[1] {
			t.Errorf("busy[%d] = %+v, want %v", i, fb.Busy[i], w)
		}
	}
}

// An all-day event belongs to its days in the caller's zone, even where
// the provider, judging in UTC, would not count it in the window: the
// broker reads wider and cuts in timeZone.
func TestEventsAllDayAtTheWindowsEdges(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{})
	app := b.NewApp(t)
	b.Accounts[0].Calendar.Add("primary@example.com",
		googletest.CalEvent{ID: "d29", Date: "2026-03-29", EndDate: "2026-03-30"},
		googletest.CalEvent{ID: "d27", Date: "2026-03-27", EndDate: "2026-03-28"})
	b.Connect(t, app, "s1", 0)
	// 2026-03-28T10:00Z–12:00Z is already the 29th in Kiritimati (UTC+14)
	// and still the 27th in Niue (UTC−11).
	for tz, want := range map[string]string{"Pacific/Kiritimati": "2026-03-29", "Pacific/Niue": "2026-03-27", "UTC": ""} {
		_, p, raw := evGet(t, b, app, "/v1/events", evWindow(at(10), at(12), "scheduleId", "s1", "timeZone", tz))
		if want == "" {
			if len(p.Events) != 0 {
				t.Errorf("%s: %s, want nothing", tz, raw)
			}
			continue
		}
		if len(p.Events) != 1 || p.Events[0].Start.Date != want {
			t.Errorf("%s: %s, want the all-day event of %s", tz, raw, want)
		}
		_, fb, raw := evGet(t, b, app, "/v1/freebusy", evWindow(at(10), at(12), "scheduleId", "s1", "timeZone", tz))
		if len(fb.Busy) != 1 || fb.Busy[0].Start != at(10).In(mustZone(t, tz)).Format(time.RFC3339) {
			t.Errorf("%s free/busy: %s, want the whole window busy", tz, raw)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var _ = model.StatusConnected
