package caldav_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

const user, pass = "ann@example.com", "horse-battery"

// call reaches the server with Basic credentials, as the broker injects them.
func call(s *caldavtest.Server, password string) providers.CalendarCall {
	return providers.CalendarCall{BaseURL: s.URL, Do: func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.SetBasicAuth(user, password)
		return http.DefaultClient.Do(r)
	}}
}

func ics(body string) string {
	return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//broker test//EN\n" + strings.TrimLeft(body, "\n") + "END:VCALENDAR\n"
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// list reads a calendar's window and indexes the events by id, failing on
// an id seen twice.
func list(t *testing.T, c providers.CalendarCall, cal, from, to string) map[string]providers.Event {
	t.Helper()
	out := map[string]providers.Event{}
	err := caldav.Room{}.ListEvents(t.Context(), c, cal, date(from), date(to), func(e providers.Event) error {
		if _, dup := out[e.ID]; dup {
			t.Fatalf("event %s twice", e.ID)
		}
		if e.CalendarID != cal {
			t.Fatalf("event %s of calendar %q", e.ID, e.CalendarID)
		}
		out[e.ID] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(m map[string]providers.Event) []string {
	var out []string
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

const berlinTZ = `BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
`

// The calendars of the account: found from the principal's home set, ids
// relative to the apiBaseUrl, the first one primary, names as displayname.
func TestListCalendars(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	work := s.AddCalendar("work", "Work")
	cals, err := caldav.Room{}.ListCalendars(t.Context(), call(s, pass))
	if err != nil {
		t.Fatal(err)
	}
	want := []providers.Calendar{
		{ID: caldavtest.PersonalID, Name: "Personal", Primary: true},
		{ID: work, Name: "Work"},
	}
	if !slices.Equal(cals, want) {
		t.Fatalf("calendars = %+v, want %+v", cals, want)
	}
}

// Around the change to summer time (last Sunday of March 2026, 29th) an
// event keeps its wall-clock time in Europe/Berlin: a weekly 09:00 series
// is 08:00Z before and 07:00Z after; an event over the missing hour lasts
// one real hour.
func TestDSTChangeKeepsWallClock(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	s.MustPut(t, "personal", "weekly", ics(berlinTZ+`BEGIN:VEVENT
UID:weekly
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260316T090000
DTEND;TZID=Europe/Berlin:20260316T093000
RRULE:FREQ=WEEKLY;BYDAY=MO
SUMMARY:Stand-up
END:VEVENT
`))
	s.MustPut(t, "personal", "sunday", ics(berlinTZ+`BEGIN:VEVENT
UID:sunday
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Berlin:20260329T013000
DTEND;TZID=Europe/Berlin:20260329T033000
SUMMARY:Night shift
END:VEVENT
`))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-03-20T00:00:00Z", "2026-04-10T00:00:00Z")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for id, wantUTC := range map[string]string{
		"weekly_20260323T080000Z": "2026-03-23T08:00:00Z",
		"weekly_20260330T070000Z": "2026-03-30T07:00:00Z",
		"weekly_20260406T070000Z": "2026-04-06T07:00:00Z",
	} {
		e, ok := got[id]
		if !ok {
			t.Fatalf("no %s in %v", id, ids(got))
		}
		if !e.Start.Equal(date(wantUTC)) || e.End.Sub(e.Start) != 30*time.Minute || e.Start.In(berlin).Hour() != 9 ||
			e.RecurringEventID != "weekly" || e.TimeZone != "Europe/Berlin" || e.Title != "Stand-up" {
			t.Errorf("%s = %+v", id, e)
		}
	}
	n := got["sunday"]
	if !n.Start.Equal(date("2026-03-29T00:30:00Z")) || !n.End.Equal(date("2026-03-29T01:30:00Z")) || n.RecurringEventID != "" {
		t.Errorf("over the missing hour: %+v", n)
	}
	if len(got) != 4 {
		t.Errorf("events %v, want 3 occurrences and 1 event", ids(got))
	}
}

// Exchange writes Windows zone names as TZIDs; they are mapped, not
// dropped, and so is a prefixed IANA name.
func TestWindowsAndPrefixedZones(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	s.MustPut(t, "personal", "exchange", ics(`BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:040000008200E00074C5B7101A82E008
DTSTAMP:20260601T080000Z
DTSTART;TZID="W. Europe Standard Time":20260702T140000
DTEND;TZID="W. Europe Standard Time":20260702T150000
SUMMARY:Exchange meeting
END:VEVENT
`))
	s.MustPut(t, "personal", "pacific", ics(`BEGIN:VEVENT
UID:pacific
DTSTAMP:20260601T080000Z
DTSTART;TZID=Pacific Standard Time:20260702T090000
DURATION:PT90M
END:VEVENT
`))
	s.MustPut(t, "personal", "mozilla", ics(`BEGIN:VEVENT
UID:mozilla
DTSTAMP:20260601T080000Z
DTSTART;TZID=/mozilla.org/20050126_1/America/New_York:20260702T090000
DTEND;TZID=/mozilla.org/20050126_1/America/New_York:20260702T100000
END:VEVENT
`))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-07-01T00:00:00Z", "2026-07-04T00:00:00Z")
	for id, want := range map[string][3]string{
		"040000008200E00074C5B7101A82E008": {"2026-07-02T12:00:00Z", "2026-07-02T13:00:00Z", "Europe/Berlin"},
		"pacific":                          {"2026-07-02T16:00:00Z", "2026-07-02T17:30:00Z", "America/Los_Angeles"},
		"mozilla":                          {"2026-07-02T13:00:00Z", "2026-07-02T14:00:00Z", "America/New_York"},
	} {
		e := got[id]
		if !e.Start.Equal(date(want[0])) || !e.End.Equal(date(want[1])) || e.TimeZone != want[2] {
			t.Errorf("%s = %+v, want %v", id, e, want)
		}
	}
}

// All-day events are dates, end exclusive, a missing end one day; timed
// events exactly at the window's edges: ending at from is out, starting at
// from is in, starting at to is out.
func TestAllDayAndEdges(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	for name, body := range map[string]string{
		"long":      "DTSTART;VALUE=DATE:20260501\nDTEND;VALUE=DATE:20260510\n",
		"oneday":    "DTSTART;VALUE=DATE:20260504\n",
		"twodays":   "DTSTART;VALUE=DATE:20260505\nDURATION:P2D\n",
		"endsfrom":  "DTSTART:20260503T080000Z\nDTEND:20260503T090000Z\n",
		"atfrom":    "DTSTART:20260503T090000Z\nDTEND:20260503T093000Z\n",
		"atto":      "DTSTART:20260505T090000Z\nDTEND:20260505T100000Z\n",
		"beforeall": "DTSTART;VALUE=DATE:20260420\nDTEND;VALUE=DATE:20260422\n",
	} {
		s.MustPut(t, "personal", name, ics("BEGIN:VEVENT\nUID:"+name+"\nDTSTAMP:20260401T000000Z\n"+body+"TRANSP:TRANSPARENT\nEND:VEVENT\n"))
	}
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-05-03T09:00:00Z", "2026-05-05T09:00:00Z")
	if want := []string{"atfrom", "long", "oneday", "twodays"}; !slices.Equal(ids(got), want) {
		t.Fatalf("events %v, want %v", ids(got), want)
	}
	for id, want := range map[string][2]string{"long": {"2026-05-01", "2026-05-10"}, "oneday": {"2026-05-04", "2026-05-05"}, "twodays": {"2026-05-05", "2026-05-07"}} {
		if e := got[id]; !e.AllDay || e.StartDate != want[0] || e.EndDate != want[1] || !e.Start.IsZero() || e.Transparency != providers.Free {
			t.Errorf("%s = %+v, want %v", id, e, want)
		}
	}
}

// A long window is read in slices (several REPORTs); every event comes
// once, one spanning the whole window too.
func TestManyEventsAcrossSlices(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	base := date("2026-01-01T09:00:00Z")
	for i := range 300 {
		st := base.Add(time.Duration(i) * 16 * time.Hour)
		s.MustPut(t, "personal", fmt.Sprint("e", i), ics(fmt.Sprintf("BEGIN:VEVENT\nUID:e%d\nDTSTAMP:20251201T000000Z\nDTSTART:%s\nDTEND:%s\nEND:VEVENT\n",
			i, st.Format("20060102T150405Z"), st.Add(time.Hour).Format("20060102T150405Z"))))
	}
	s.MustPut(t, "personal", "whole", ics("BEGIN:VEVENT\nUID:whole\nDTSTAMP:20251201T000000Z\nDTSTART:20251201T000000Z\nDTEND:20261201T000000Z\nEND:VEVENT\n"))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-01-01T00:00:00Z", "2026-07-20T00:00:00Z")
	if len(got) != 301 {
		t.Fatalf("got %d events, want 301", len(got))
	}
	if n := s.Requests("REPORT"); n != 3 {
		t.Fatalf("%d REPORTs for 200 days, want 3 slices", n)
	}
}

// A 401 gets one retry with the refreshed credential (the broker's
// CalendarCall.Do): the request bodies of PROPFIND and REPORT survive it.
func TestRetryAfter401WithFreshCredential(t *testing.T) {
	s := caldavtest.NewServer(t, user, "new")
	s.MustPut(t, "personal", "x", ics("BEGIN:VEVENT\nUID:x\nDTSTAMP:20260101T000000Z\nDTSTART:20260301T100000Z\nDTEND:20260301T110000Z\nEND:VEVENT\n"))
	stale := true
	c := providers.CalendarCall{BaseURL: s.URL, Do: func(req *http.Request) (*http.Response, error) {
		send := func(pw string) (*http.Response, error) {
			r := req.Clone(req.Context())
			if req.GetBody != nil {
				r.Body, _ = req.GetBody()
			}
			r.SetBasicAuth(user, pw)
			return http.DefaultClient.Do(r)
		}
		pw := "new"
		if stale {
			pw = "old"
		}
		resp, err := send(pw)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			return resp, err
		}
		resp.Body.Close()
		stale = false
		return send("new")
	}}
	if cals, err := (caldav.Room{}).ListCalendars(t.Context(), c); err != nil || len(cals) != 1 {
		t.Fatalf("calendars after a refresh: %+v %v", cals, err)
	}
	stale = true
	if got := list(t, c, caldavtest.PersonalID, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"); len(got) != 1 {
		t.Fatalf("events after a refresh: %v", ids(got))
	}
}

// A failing server is an UpstreamError with its status; neither the body
// nor the URL shows in the error.
func TestServerErrorsAreUpstreamErrors(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	check := func(what string, err error, status int) {
		t.Helper()
		var ue *providers.UpstreamError
		if !errors.As(err, &ue) || ue.Status != status {
			t.Fatalf("%s: err = %v, want UpstreamError %d", what, err, status)
		}
		if msg := err.Error(); strings.Contains(msg, "secret-marker") || strings.Contains(msg, "/dav") || strings.Contains(msg, "127.0.0.1") {
			t.Fatalf("%s: error text repeats the answer: %q", what, msg)
		}
	}
	s.FailNext(http.StatusServiceUnavailable)
	_, err := caldav.Room{}.ListCalendars(t.Context(), call(s, pass))
	check("calendars", err, 503)
	s.FailNext(http.StatusInternalServerError)
	err = caldav.Room{}.ListEvents(t.Context(), call(s, pass), caldavtest.PersonalID, date("2026-01-01T00:00:00Z"), date("2026-01-02T00:00:00Z"), func(providers.Event) error { return nil })
	check("events", err, 500)
	_, err = caldav.Room{}.ListCalendars(t.Context(), call(s, "wrong"))
	check("wrong password", err, 401)
	err = caldav.Room{}.ListEvents(t.Context(), call(s, pass), "ann/calendars/none/", date("2026-01-01T00:00:00Z"), date("2026-01-02T00:00:00Z"), func(providers.Event) error { return nil })
	check("unknown calendar", err, 404)
	err = caldav.Room{}.ListEvents(t.Context(), call(s, pass), "../../etc/", date("2026-01-01T00:00:00Z"), date("2026-01-02T00:00:00Z"), func(providers.Event) error { return nil })
	check("climbing id", err, 404)
}

// The server sends the whole object; the adapter keeps the title and
// nothing else personal.
func TestNothingPersonalBeyondTheTitle(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	s.MustPut(t, "personal", "p", ics(`BEGIN:VEVENT
UID:p
DTSTAMP:20260101T000000Z
DTSTART:20260301T100000Z
DTEND:20260301T110000Z
SUMMARY:Dentist
DESCRIPTION:secret-description
LOCATION:secret-location
URL:https://secret-url.example.com/
ORGANIZER;CN=secret-organizer:mailto:boss@example.com
ATTENDEE;CN=secret-attendee:mailto:friend@example.com
X-GOOGLE-CONFERENCE:https://meet.example.com/secret-conference
END:VEVENT
`))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
	dump := fmt.Sprintf("%#v", got)
	for _, secret := range []string{"secret", "boss@", "friend@"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("event carries %q: %s", secret, dump)
		}
	}
	if got["p"].Title != "Dentist" {
		t.Fatalf("title = %q", got["p"].Title)
	}
}
