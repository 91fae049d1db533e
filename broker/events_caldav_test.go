package broker_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// davEvents are the fixtures of the CalDAV end-to-end test: a daily 09:00
// Berlin series over the change to summer time (29 March 2026) with an
// EXDATE and a cancelled instance, a free all-day trip across the whole
// window, all-day days that touch the window's edges, and private fields
// that must never come out.
var davEvents = map[string]string{
	"daily": `BEGIN:VEVENT
UID:daily
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Berlin:20260326T090000
DTEND;TZID=Europe/Berlin:20260326T093000
RRULE:FREQ=DAILY;COUNT=6
EXDATE;TZID=Europe/Berlin:20260328T090000
SUMMARY:Stand-up
DESCRIPTION:secret-description
ATTENDEE;CN=secret-attendee:mailto:bob@example.com
LOCATION:secret-location
END:VEVENT
BEGIN:VEVENT
UID:daily
DTSTAMP:20260301T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20260330T090000
DTSTART;TZID=Europe/Berlin:20260330T090000
DTEND;TZID=Europe/Berlin:20260330T093000
STATUS:CANCELLED
END:VEVENT
`,
	"trip":   "BEGIN:VEVENT\nUID:trip\nDTSTAMP:20260301T000000Z\nDTSTART;VALUE=DATE:20260320\nDTEND;VALUE=DATE:20260410\nSUMMARY:Trip\nTRANSP:TRANSPARENT\nEND:VEVENT\n",
	"before": "BEGIN:VEVENT\nUID:before\nDTSTAMP:20260301T000000Z\nDTSTART;VALUE=DATE:20260326\nSUMMARY:Ends at from\nEND:VEVENT\n",
	"after":  "BEGIN:VEVENT\nUID:after\nDTSTAMP:20260301T000000Z\nDTSTART;VALUE=DATE:20260403\nSUMMARY:Starts at to\nEND:VEVENT\n",
}

func davICS(body string) string {
	return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//broker test//EN\n" + body + "END:VCALENDAR\n"
}

// GET /v1/events through the real HTTP stack with a CalDAV connection,
// read from go-webdav's CalDAV server: the password connection, both
// calendars selected, the series expanded in the query's zone across the
// DST change, all-day days at the edges, cancelled and free events, the
// normalized JSON; then a server failure and a changed password as
// failures.
func TestEventsThroughCalDAVAdapter(t *testing.T) {
	dav := caldavtest.NewServer(t, "ann@example.com", "right-horse")
	work := dav.AddCalendar("work", "Work")
	for name, body := range davEvents {
		dav.MustPut(t, "personal", name, davICS(body))
	}
	dav.MustPut(t, "work", "lunch", davICS("BEGIN:VEVENT\nUID:lunch\nDTSTAMP:20260301T000000Z\nDTSTART:20260401T120000Z\nDTEND:20260401T130000Z\nSUMMARY:Lunch\nEND:VEVENT\n"))
	d := newDemoBroker(t, func(c *config.Config) {
		c.Server.AllowInsecureLoopback = true
		c.Providers = map[string]providers.Spec{"caldav": {APIBaseURL: dav.URL + "/"}}
	})
	var conn struct{ Connection struct{ ID string } }
	if code := d.call(t, "POST", "/v1/connect/credentials", map[string]any{"providerId": "caldav", "scheduleId": "s1",
		"credentials": map[string]string{"username": "ann@example.com", "password": "right-horse"}}, &conn); code != 200 || conn.Connection.ID == "" {
		t.Fatalf("connect: %d %+v", code, conn)
	}
	id := conn.Connection.ID
	var cals struct {
		Calendars []struct {
			ID, Name                    string
			Primary, Selected, ReadOnly bool
		}
	}
	if code := d.call(t, "GET", "/v1/connections/"+id+"/calendars?fieldset=OWN_PI", nil, &cals); code != 200 || len(cals.Calendars) != 2 ||
		cals.Calendars[0].ID != caldavtest.PersonalID || !cals.Calendars[0].Primary || !cals.Calendars[0].Selected || cals.Calendars[0].Name != "Personal" ||
		cals.Calendars[1].ID != work || cals.Calendars[1].Selected {
		t.Fatalf("calendars: %d %+v", code, cals)
	}
	if code := d.call(t, "PUT", "/v1/connections/"+id+"/calendars", map[string]any{"selected": []string{caldavtest.PersonalID, work}}, nil); code != 200 {
		t.Fatalf("select: %d", code)
	}

	q := url.Values{"scheduleId": {"s1"}, "from": {"2026-03-27T00:00:00+01:00"}, "to": {"2026-04-03T00:00:00+02:00"},
		"timeZone": {"Europe/Berlin"}, "fieldset": {"OWN_PI"}, "limit": {"1000"}}
	var raw json.RawMessage
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &raw); code != 200 {
		t.Fatalf("events: %d %s", code, raw)
	}
	for _, secret := range []string{"secret", "bob@"} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the listing carries %q: %s", secret, raw)
		}
	}
	var page struct {
		Events []map[string]any
	}
	_ = json.Unmarshal(raw, &page)
	var got, order []string
	ids := map[string]bool{}
	for _, e := range page.Events {
		if e["connectionId"] != id || e["providerId"] != "caldav" || ids[e["id"].(string)] {
			t.Fatalf("event %v", e)
		}
		ids[e["id"].(string)] = true
		order = append(order, e["id"].(string))
		delete(e, "id")
		delete(e, "connectionId")
		delete(e, "providerId")
		delete(e, "updated")
		b, _ := json.Marshal(e)
		got = append(got, string(b))
	}
	p, w := caldavtest.PersonalID, work
	want := []string{
		`{"allDay":true,"calendarId":"` + p + `","calendarName":"Personal","end":{"date":"2026-04-10"},"start":{"date":"2026-03-20"},"status":"confirmed","title":"Trip","transparency":"free"}`,
		`{"allDay":false,"calendarId":"` + p + `","calendarName":"Personal","end":{"dateTime":"2026-03-27T09:30:00+01:00","timeZone":"Europe/Berlin"},"recurringEventId":"daily","start":{"dateTime":"2026-03-27T09:00:00+01:00","timeZone":"Europe/Berlin"},"status":"confirmed","title":"Stand-up","transparency":"busy"}`,
		`{"allDay":false,"calendarId":"` + p + `","calendarName":"Personal","end":{"dateTime":"2026-03-29T09:30:00+02:00","timeZone":"Europe/Berlin"},"recurringEventId":"daily","start":{"dateTime":"2026-03-29T09:00:00+02:00","timeZone":"Europe/Berlin"},"status":"confirmed","title":"Stand-up","transparency":"busy"}`,
		`{"allDay":false,"calendarId":"` + p + `","calendarName":"Personal","end":{"dateTime":"2026-03-30T09:30:00+02:00","timeZone":"Europe/Berlin"},"recurringEventId":"daily","start":{"dateTime":"2026-03-30T09:00:00+02:00","timeZone":"Europe/Berlin"},"status":"cancelled","title":"Stand-up","transparency":"busy"}`,
		`{"allDay":false,"calendarId":"` + p + `","calendarName":"Personal","end":{"dateTime":"2026-03-31T09:30:00+02:00","timeZone":"Europe/Berlin"},"recurringEventId":"daily","start":{"dateTime":"2026-03-31T09:00:00+02:00","timeZone":"Europe/Berlin"},"status":"confirmed","title":"Stand-up","transparency":"busy"}`,
		`{"allDay":false,"calendarId":"` + w + `","calendarName":"Work","end":{"dateTime":"2026-04-01T15:00:00+02:00","timeZone":"Europe/Berlin"},"start":{"dateTime":"2026-04-01T14:00:00+02:00","timeZone":"Europe/Berlin"},"status":"confirmed","title":"Lunch","transparency":"busy"}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Broker pages of 2 read the same events in the same order.
	q.Set("limit", "2")
	var paged []string
	path := "/v1/events?" + q.Encode()
	for range 10 {
		var pg struct {
			Events         []struct{ ID string }
			PagingMetadata struct {
				Cursor  string
				HasNext bool
			}
		}
		if code := d.call(t, "GET", path, nil, &pg); code != 200 || pg.PagingMetadata.HasNext && len(pg.Events) != 2 {
			t.Fatalf("page: %d %+v", code, pg)
		}
		for _, e := range pg.Events {
			paged = append(paged, e.ID)
		}
		if !pg.PagingMetadata.HasNext {
			break
		}
		path = "/v1/events?" + url.Values{"scheduleId": {"s1"}, "cursor": {pg.PagingMetadata.Cursor}, "limit": {"2"},
			"timeZone": {"Europe/Berlin"}, "fieldset": {"OWN_PI"}}.Encode()
	}
	if !slices.Equal(paged, order) {
		t.Fatalf("paged %v, want %v", paged, order)
	}
	q.Set("limit", "1000")

	// One 401 on the REPORT: the broker asks its token manager again and
	// retries once, the REPORT's body sent again, and the listing is whole.
	dav.FailNextOn("REPORT", 401)
	var again struct{ Events []json.RawMessage }
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &again); code != 200 || len(again.Events) != len(want) {
		t.Fatalf("after one 401: %d, %d events", code, len(again.Events))
	}

	// Free/busy: neither the free trip nor the cancelled instance counts.
	var fb struct{ Busy []struct{ Start, End string } }
	q.Del("fieldset")
	q.Del("limit")
	if code := d.call(t, "GET", "/v1/freebusy?"+q.Encode(), nil, &fb); code != 200 || len(fb.Busy) != 4 ||
		fb.Busy[0].Start != "2026-03-27T09:00:00+01:00" || fb.Busy[2].End != "2026-03-31T09:30:00+02:00" {
		t.Fatalf("freebusy: %d %+v", code, fb)
	}

	// A failing server and then a changed password are failures with the
	// broker's codes (partialFailure), or the call's error without it.
	type failPage struct {
		Events   []json.RawMessage
		Failures []struct{ ConnectionID, ProviderID, Code, Message string }
		Error    struct{ Code string }
	}
	q.Set("partialFailure", "true")
	for _, c := range []struct {
		setup func()
		code  string
	}{
		{func() { dav.FailNext(503) }, "upstream_unavailable"},
		{func() { dav.SetPasswords("changed") }, "needs_reauth"},
	} {
		c.setup()
		var fp failPage
		if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &fp); code != 200 || len(fp.Events) != 0 || len(fp.Failures) != 1 ||
			fp.Failures[0].ConnectionID != id || fp.Failures[0].ProviderID != "caldav" || fp.Failures[0].Code != c.code ||
			strings.Contains(fp.Failures[0].Message, "secret-marker") {
			t.Fatalf("%s: %d %+v", c.code, code, fp)
		}
	}
	q.Del("partialFailure")
	var fp failPage
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &fp); code != 409 || fp.Error.Code != "needs_reauth" {
		t.Fatalf("without partialFailure: %d %+v", code, fp)
	}
}
