package caldav_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
	"github.com/teambition/rrule-go"
)

// A daily series with a moved instance, a cancelled one, an EXDATE (and
// one that is a date: that day), an RDATE and an instance moved out of the
// window.
func TestRecurringSeriesWithExceptions(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	s.MustPut(t, "personal", "daily", ics(`BEGIN:VEVENT
UID:daily
DTSTAMP:20260501T000000Z
LAST-MODIFIED:20260502T000000Z
DTSTART:20260601T100000Z
DTEND:20260601T110000Z
RRULE:FREQ=DAILY;COUNT=10
EXDATE:20260603T100000Z
EXDATE;VALUE=DATE:20260609
RDATE:20260620T120000Z
SUMMARY:Daily
STATUS:TENTATIVE
END:VEVENT
BEGIN:VEVENT
UID:daily
DTSTAMP:20260501T000000Z
RECURRENCE-ID:20260604T100000Z
DTSTART:20260604T150000Z
DTEND:20260604T160000Z
SUMMARY:Daily (moved)
END:VEVENT
BEGIN:VEVENT
UID:daily
DTSTAMP:20260501T000000Z
RECURRENCE-ID:20260605T100000Z
DTSTART:20260605T100000Z
DTEND:20260605T110000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:daily
DTSTAMP:20260501T000000Z
RECURRENCE-ID:20260607T100000Z
DTSTART:20260730T100000Z
DTEND:20260730T110000Z
END:VEVENT
`))
	s.MustPut(t, "personal", "birthday", ics(`BEGIN:VEVENT
UID:birthday
DTSTAMP:19900101T000000Z
DTSTART;VALUE=DATE:19900610
RRULE:FREQ=YEARLY
SUMMARY:Birthday
END:VEVENT
`))
	got := list(t, call(s, pass), caldavtest.PersonalID, "2026-06-01T00:00:00Z", "2026-06-25T00:00:00Z")
	want := []string{"birthday_20260610", "daily_20260601T100000Z", "daily_20260602T100000Z", "daily_20260604T100000Z",
		"daily_20260605T100000Z", "daily_20260606T100000Z", "daily_20260608T100000Z",
		"daily_20260610T100000Z", "daily_20260620T120000Z"}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("events\n%v\nwant\n%v", ids(got), want)
	}
	for id, e := range got {
		if e.RecurringEventID == "" || !strings.HasPrefix(id, e.RecurringEventID+"_") {
			t.Errorf("%s: recurringEventId %q", id, e.RecurringEventID)
		}
	}
	if m := got["daily_20260604T100000Z"]; !m.Start.Equal(date("2026-06-04T15:00:00Z")) || m.Title != "Daily (moved)" || m.Status != providers.StatusConfirmed {
		t.Errorf("moved = %+v", m)
	}
	if c := got["daily_20260605T100000Z"]; c.Status != providers.StatusCancelled {
		t.Errorf("cancelled = %+v", c)
	}
	if o := got["daily_20260602T100000Z"]; o.Status != providers.StatusTentative || o.Title != "Daily" || !o.Updated.Equal(date("2026-05-02T00:00:00Z")) || o.End.Sub(o.Start) != time.Hour {
		t.Errorf("occurrence = %+v", o)
	}
	if b := got["birthday_20260610"]; !b.AllDay || b.StartDate != "2026-06-10" || b.EndDate != "2026-06-11" {
		t.Errorf("birthday = %+v", b)
	}
}

// Series that began long ago are not walked from their start, yet list the
// same instances as a walk from the start would (rrule-go as the
// reference).
func TestOldSeriesListTheirTrueInstances(t *testing.T) {
	s := caldavtest.NewServer(t, user, pass)
	rules := []string{"FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE", "FREQ=MONTHLY;BYMONTHDAY=31",
		"FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "FREQ=YEARLY;INTERVAL=4;BYMONTH=3", "FREQ=WEEKLY;BYDAY=SU;WKST=MO"}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2019, 1, 31, 9, 15, 0, 0, berlin)
	from, to := date("2026-01-01T00:00:00Z"), date("2028-06-01T00:00:00Z")
	for i, r := range rules {
		s.MustPut(t, "personal", fmt.Sprint("r", i), ics(berlinTZ+fmt.Sprintf("BEGIN:VEVENT\nUID:r%d\nDTSTAMP:20190101T000000Z\nDTSTART;TZID=Europe/Berlin:%s\nDURATION:PT1H\nRRULE:%s\nEND:VEVENT\n",
			i, start.Format("20060102T150405"), r)))
	}
	got := list(t, call(s, pass), caldavtest.PersonalID, from.Format(time.RFC3339), to.Format(time.RFC3339))
	var want []string
	for i, r := range rules {
		opt, err := rrule.StrToROptionInLocation(r, berlin)
		if err != nil {
			t.Fatal(err)
		}
		opt.Dtstart = start
		rr, _ := rrule.NewRRule(*opt)
		for _, x := range rr.Between(from.Add(-time.Hour), to, false) {
			if x.Add(time.Hour).After(from) {
				want = append(want, fmt.Sprintf("r%d_%s", i, x.UTC().Format("20060102T150405Z")))
			}
		}
	}
	slices.Sort(want)
	if g := ids(got); !slices.Equal(g, want) {
		var extra, missing []string
		for _, id := range g {
			if !slices.Contains(want, id) {
				extra = append(extra, id)
			}
		}
		for _, id := range want {
			if !slices.Contains(g, id) {
				missing = append(missing, id)
			}
		}
		t.Fatalf("%d instances, want %d: extra %v, missing %v", len(g), len(want), extra, missing)
	}
}
