package caldav_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// Every IANA zone of the Windows table exists, and the names Exchange
// writes most map where CLDR says.
func TestWindowsZonesLoad(t *testing.T) {
	if len(caldav.WindowsZones) < 130 {
		t.Fatalf("only %d Windows zones", len(caldav.WindowsZones))
	}
	for win, id := range caldav.WindowsZones {
		if _, err := time.LoadLocation(id); err != nil {
			t.Errorf("%s → %s: %v", win, id, err)
		}
	}
	for win, id := range map[string]string{
		"W. Europe Standard Time": "Europe/Berlin", "Pacific Standard Time": "America/Los_Angeles",
		"Eastern Standard Time": "America/New_York", "GMT Standard Time": "Europe/London",
		"Tokyo Standard Time": "Asia/Tokyo", "India Standard Time": "Asia/Kolkata", "AUS Eastern Standard Time": "Australia/Sydney",
	} {
		if got := caldav.WindowsZones[win]; got != id {
			t.Errorf("%s → %q, want %q", win, got, id)
		}
	}
}

// A zone known only by its VTIMEZONE (one offset) is that zone; a floating
// time is read in the calendar's zone, UTC when the server tells none.
func TestCustomAndFloatingZones(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	s.MustPut(t, "personal", "custom", ics(`BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:custom
DTSTAMP:20260101T000000Z
DTSTART;TZID=Customized Time Zone:20260301T100000
DTEND;TZID=Customized Time Zone:20260301T110000
END:VEVENT
`))
	s.MustPut(t, "personal", "floating", ics("BEGIN:VEVENT\nUID:floating\nDTSTAMP:20260101T000000Z\nDTSTART:20260301T100000\nDTEND:20260301T103000\nEND:VEVENT\n"))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
	if c := got["custom"]; !c.Start.Equal(date("2026-03-01T04:30:00Z")) || c.TimeZone != "" {
		t.Errorf("custom = %+v", c)
	}
	if f := got["floating"]; !f.Start.Equal(date("2026-03-01T10:00:00Z")) || !f.End.Equal(date("2026-03-01T10:30:00Z")) {
		t.Errorf("floating = %+v", f)
	}
}

// An answer over the cap is asked again for half the window, down to a
// day; every event still comes once.
func TestTooLargeAnswerIsSplit(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	base := date("2026-02-01T09:00:00Z")
	for i := range 40 {
		st := base.Add(time.Duration(i) * 12 * time.Hour)
		s.MustPut(t, "personal", fmt.Sprint("e", i), ics(fmt.Sprintf("BEGIN:VEVENT\nUID:e%d\nDTSTAMP:20251201T000000Z\nDTSTART:%s\nDTEND:%s\nEND:VEVENT\n",
			i, st.Format("20060102T150405Z"), st.Add(time.Hour).Format("20060102T150405Z"))))
	}
	defer caldav.SetMaxBody(8 << 10)()
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-02-01T00:00:00Z", "2026-02-21T00:00:00Z")
	if len(got) != 40 || s.Requests("REPORT") < 3 {
		t.Fatalf("%d events in %d REPORTs, want 40 in several", len(got), s.Requests("REPORT"))
	}
	// One day's answer still too large: an UpstreamError, not a partial list.
	defer caldav.SetMaxBody(600)()
	err := caldav.Room{}.ListEvents(t.Context(), call(s, pass), caldavtest.PersonalID, date("2026-02-01T00:00:00Z"), date("2026-02-03T00:00:00Z"), func(providers.Event) error { return nil })
	var ue *providers.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 0 {
		t.Fatalf("err = %v, want an UpstreamError for the size", err)
	}
}

// A zone defined only by its VTIMEZONE, with summer time: its offsets
// apply by season, and a weekly series keeps its wall clock across the
// change.
func TestVTimezoneDefinedZone(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	s.MustPut(t, "personal", "outlook", ics(`BEGIN:VTIMEZONE
TZID:(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna
BEGIN:STANDARD
DTSTART:16011028T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:outlook
DTSTAMP:20260101T000000Z
DTSTART;TZID="(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna":20260320T090000
DTEND;TZID="(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna":20260320T100000
RRULE:FREQ=WEEKLY
END:VEVENT
`))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-03-20T00:00:00Z", "2026-04-01T00:00:00Z")
	if want := []string{"outlook_20260320T080000Z", "outlook_20260327T080000Z"}; !slices.Equal(ids(got), want) {
		t.Fatalf("events %v, want %v", ids(got), want)
	}
	got = list(t, call(s, pass), caldavtest.PersonalID, "2026-07-01T00:00:00Z", "2026-07-04T00:00:00Z")
	if e := got["outlook_20260703T070000Z"]; !e.Start.Equal(date("2026-07-03T07:00:00Z")) || e.End.Sub(e.Start) != time.Hour || e.TimeZone != "" {
		t.Fatalf("summer occurrence: %v %+v", ids(got), e)
	}
}

// Two invitations may both name their own zone "Customized Time Zone":
// each object's VTIMEZONE counts for its own events.
func TestSameCustomNameTwoZones(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	for i, off := range []string{"+0530", "-0300"} {
		s.MustPut(t, "personal", fmt.Sprint("c", i), ics(fmt.Sprintf("BEGIN:VTIMEZONE\nTZID:Customized Time Zone\nBEGIN:STANDARD\nDTSTART:16010101T000000\nTZOFFSETFROM:%s\nTZOFFSETTO:%s\nEND:STANDARD\nEND:VTIMEZONE\n"+
			"BEGIN:VEVENT\nUID:c%d\nDTSTAMP:20260101T000000Z\nDTSTART;TZID=Customized Time Zone:20260301T100000\nDURATION:PT1H\nEND:VEVENT\n", off, off, i)))
	}
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
	if !got["c0"].Start.Equal(date("2026-03-01T04:30:00Z")) || !got["c1"].Start.Equal(date("2026-03-01T13:00:00Z")) {
		t.Fatalf("c0 %v, c1 %v", got["c0"].Start, got["c1"].Start)
	}
}
