package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/events/eventstest"
	"github.com/oauthbroker/broker/providers/google/googletest"
)

// The zones fixtures are read in: DST changes inside the windows (Berlin
// and New York in March), half-hour offsets, the far ends of UTC.
var propZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Niue"}

// fixture is one random case: events on 2–3 connections and a window.
type fixture struct {
	schedule string
	from, to time.Time
	zone     *time.Location
}

// newFixture fills fresh calendars of a random 2–3 accounts (timed,
// all-day, free, cancelled, tentative, overlapping, touching, zero-length,
// across the window's edges) and connects them in a schedule of its own.
func newFixture(t testing.TB, b *eventstest.Bench, app eventstest.App, r *rand.Rand, n int) fixture {
	f := fixture{schedule: fmt.Sprint("case-", n)}
	f.zone, _ = time.LoadLocation(propZones[r.IntN(len(propZones))])
	// Windows start on a quarter hour near Europe's and America's DST changes.
	f.from = time.Date(2026, 3, 6+r.IntN(25), r.IntN(24), 15*r.IntN(4), 0, 0, time.UTC)
	f.to = f.from.Add(time.Duration(1+r.IntN(3*24*4)) * 15 * time.Minute)
	accts := r.Perm(len(b.Accounts))[:2+r.IntN(2)]
	for _, a := range accts {
		cal := fmt.Sprintf("cal-%d", n)
		fake := b.Accounts[a].Calendar
		fake.AddCalendar(cal, "Case calendar", false)
		var evs []googletest.CalEvent
		for k := range r.IntN(12) {
			e := googletest.CalEvent{ID: fmt.Sprint("e", k), Summary: "x"}
			switch r.IntN(10) {
			case 0:
				e.Status = "cancelled"
			case 1, 2:
				e.Status = "tentative"
			}
			if r.IntN(4) == 0 {
				e.Transparency = "transparent"
			}
			if r.IntN(5) == 0 {
				day := f.from.In(f.zone).AddDate(0, 0, r.IntN(5)-2)
				e.Date = day.Format(time.DateOnly)
				e.EndDate = day.AddDate(0, 0, 1+r.IntN(3)).Format(time.DateOnly)
			} else {
				// Quarter hours from a day before to a day after the window:
				// touching and overlapping neighbours are common.
				e.Start = f.from.Add(time.Duration(r.IntN(int(f.to.Sub(f.from)/(15*time.Minute))+192)-96) * 15 * time.Minute)
				e.End = e.Start.Add(time.Duration(r.IntN(17)) * 15 * time.Minute)
			}
			evs = append(evs, e)
		}
		fake.Add(cal, evs...)
		b.Connect(t, app, f.schedule, a, cal)
	}
	return f
}

// busyOf is the reference: every minute of the window an event that
// counts covers, run-length encoded. It shares nothing with the broker's
// interval code.
func busyOf(t testing.TB, f fixture, evs []listed) []events.Interval {
	minutes := make([]bool, int(f.to.Sub(f.from)/time.Minute))
	for _, e := range evs {
		if e.status == "cancelled" || e.transparency == "free" {
			continue
		}
		for m := range minutes {
			at := f.from.Add(time.Duration(m) * time.Minute)
			if !at.Before(e.start) && at.Before(e.end) {
				minutes[m] = true
			}
		}
	}
	var out []events.Interval
	for m := 0; m < len(minutes); m++ {
		if !minutes[m] {
			continue
		}
		s := m
		for m < len(minutes) && minutes[m] {
			m++
		}
		out = append(out, events.Interval{Start: f.from.Add(time.Duration(s) * time.Minute), End: f.from.Add(time.Duration(m) * time.Minute)})
	}
	return out
}

// listed is an event as a caller reads it: start and end placed from its
// dateTime, or its dates in the query's zone.
type listed struct {
	status, transparency string
	start, end           time.Time
}

func placeDates(t testing.TB, zone *time.Location, st, en string) (time.Time, time.Time) {
	s, err1 := time.ParseInLocation(time.DateOnly, st, zone)
	e, err2 := time.ParseInLocation(time.DateOnly, en, zone)
	if err1 != nil || err2 != nil {
		t.Fatalf("dates %q %q", st, en)
	}
	return s, e
}

// Free/busy equals the busy time computed from the events listing, over
// several hundred random fixtures read through the service.
func TestFreeBusyEqualsEventsProperty(t *testing.T) {
	cases := 400
	if testing.Short() {
		cases = 60
	}
	b := eventstest.New(t, eventstest.Options{Accounts: 3, NoHTTP: true})
	app := b.NewApp(t)
	r := rand.New(rand.NewPCG(11, 2026))
	ctx := context.Background()
	for n := range cases {
		f := newFixture(t, b, app, r, n)
		q := events.Query{ScheduleIDs: []string{f.schedule}, From: f.from, To: f.to, Limit: 1000, Location: f.zone}
		page, err := b.Service.List(ctx, app.ID, q, "")
		if err != nil || page.Cursor != "" {
			t.Fatalf("case %d: list: %v", n, err)
		}
		var evs []listed
		for _, e := range page.Events {
			l := listed{status: e.Status, transparency: e.Transparency, start: e.Start, end: e.End}
			if e.AllDay {
				l.start, l.end = placeDates(t, f.zone, e.StartDate, e.EndDate)
			}
			evs = append(evs, l)
		}
		busy, fails, err := b.Service.FreeBusy(ctx, app.ID, q)
		if err != nil || len(fails) != 0 {
			t.Fatalf("case %d: freebusy: %v %v", n, fails, err)
		}
		if want := busyOf(t, f, evs); !slices.Equal(busy, want) && !equalIntervals(busy, want) {
			t.Fatalf("case %d (%s, %v–%v): freebusy\n%v\nwant (from %d events)\n%v", n, f.zone, f.from, f.to, busy, len(evs), want)
		}
	}
}

func equalIntervals(a, b []events.Interval) bool {
	return slices.EqualFunc(a, b, func(x, y events.Interval) bool { return x.Start.Equal(y.Start) && x.End.Equal(y.End) })
}

// The same property through the router: /v1/freebusy against the busy
// time of /v1/events as an app reads them, for a few dozen fixtures.
func TestFreeBusyEqualsEventsOverHTTP(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{Accounts: 3})
	app := b.NewApp(t)
	r := rand.New(rand.NewPCG(7, 11))
	for n := range 30 {
		f := newFixture(t, b, app, r, n)
		q := url.Values{"scheduleId": {f.schedule}, "from": {f.from.Format(time.RFC3339)}, "to": {f.to.Format(time.RFC3339)}, "timeZone": {f.zone.String()}}
		var fb struct{ Busy []struct{ Start, End string } }
		getJSON(t, b, app, "/v1/freebusy", q, &fb)
		q.Set("limit", "1000")
		var ev struct {
			Events []struct {
				Status, Transparency string
				AllDay               bool
				Start, End           struct{ DateTime, Date string }
			}
		}
		getJSON(t, b, app, "/v1/events", q, &ev)
		var evs []listed
		for _, e := range ev.Events {
			l := listed{status: e.Status, transparency: e.Transparency}
			if e.AllDay {
				l.start, l.end = placeDates(t, f.zone, e.Start.Date, e.End.Date)
			} else {
				l.start, _ = time.Parse(time.RFC3339, e.Start.DateTime)
				l.end, _ = time.Parse(time.RFC3339, e.End.DateTime)
			}
			evs = append(evs, l)
		}
		var got []events.Interval
		for _, x := range fb.Busy {
			st, err1 := time.Parse(time.RFC3339, x.Start)
			en, err2 := time.Parse(time.RFC3339, x.End)
			if err1 != nil || err2 != nil {
				t.Fatalf("case %d: busy %+v", n, x)
			}
			got = append(got, events.Interval{Start: st, End: en})
		}
		if want := busyOf(t, f, evs); !equalIntervals(got, want) {
			t.Fatalf("case %d (%s): /v1/freebusy\n%v\nwant\n%v", n, f.zone, got, want)
		}
	}
}

func getJSON(t *testing.T, b *eventstest.Bench, app eventstest.App, path string, q url.Values, out any) {
	t.Helper()
	code, body := b.Get(t, app, path, q)
	if code != 200 || json.Unmarshal(body, out) != nil {
		t.Fatalf("%s: %d %s", path, code, body)
	}
}
