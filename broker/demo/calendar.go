package demo

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// calendarTZ is the demo calendars' time zone; UTC needs no tz database in
// the image.
const calendarTZ = "UTC"

// calendarInfo is one calendar of the demo account.
type calendarInfo struct {
	id, summary, accessRole string
	primary                 bool
}

// event is one stored event: timed (start, end) or all-day (startDate,
// endDate, end exclusive), optionally recurring.
type event struct {
	id, calendar, summary, description, location string
	start, end                                   time.Time
	allDay                                       bool
	status                                       string // confirmed | tentative
	transparent                                  bool   // free time: not busy
	rrule                                        string // without the RRULE: prefix
	exdates                                      []time.Time
	attendees                                    []string
	updated                                      time.Time
}

// instance is one occurrence: an event itself, or one of its recurrences.
type instance struct {
	*event
	start, end time.Time
	recurring  bool // an expanded occurrence of a recurring event
}

type calendar struct {
	cals   []calendarInfo
	events []*event
}

// newCalendar lays out a few days of events around the day of now: a daily
// stand-up (recurring, with one day skipped), meetings (one tentative, one
// marked free), a two-day all-day offsite and a holiday in a second,
// read-only calendar.
func newCalendar(now time.Time) *calendar {
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	at := func(d, h, m int) time.Time {
		return day.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	created := day.AddDate(0, 0, -14).Add(10 * time.Hour)
	primary := Account.Email
	holidays := "team-holidays@demo.example.com"
	evs := []*event{
		{id: "standup0demo", calendar: primary, summary: "Daily stand-up", location: "Video call",
			start: at(-1, 9, 30), end: at(-1, 9, 45), status: "confirmed",
			rrule: "FREQ=DAILY;COUNT=7", exdates: []time.Time{at(2, 9, 30)},
			attendees: []string{"alex@example.com", "sam@example.com"}},
		{id: "planning0demo", calendar: primary, summary: "Planning with Alex", description: "Next quarter's roadmap.",
			location: "Room 4.2", start: at(0, 14, 0), end: at(0, 15, 0), status: "confirmed",
			attendees: []string{"alex@example.com"}},
		{id: "lunch0demo", calendar: primary, summary: "Lunch", start: at(1, 12, 0), end: at(1, 13, 0),
			status: "confirmed", transparent: true},
		{id: "customer0demo", calendar: primary, summary: "Customer call (to be confirmed)",
			start: at(1, 16, 0), end: at(1, 16, 30), status: "tentative", attendees: []string{"kim@customer.example"}},
		{id: "design0demo", calendar: primary, summary: "Design review", start: at(2, 10, 0), end: at(2, 11, 30),
			status: "confirmed", attendees: []string{"sam@example.com"}},
		{id: "offsite0demo", calendar: primary, summary: "Team offsite", location: "Lakeside lodge",
			start: at(3, 0, 0), end: at(5, 0, 0), allDay: true, status: "confirmed"},
		{id: "closed0demo", calendar: holidays, summary: "Company holiday", start: at(6, 0, 0), end: at(7, 0, 0),
			allDay: true, status: "confirmed", transparent: true},
	}
	for _, e := range evs {
		e.updated = created
	}
	return &calendar{
		cals: []calendarInfo{
			{id: primary, summary: Account.Name, accessRole: "owner", primary: true},
			{id: holidays, summary: "Team holidays", accessRole: "reader"},
		},
		events: evs,
	}
}

// find resolves a calendar id; "primary" is the account's own calendar.
func (c *calendar) find(id string) (calendarInfo, bool) {
	if id == "primary" {
		id = Account.Email
	}
	for _, ci := range c.cals {
		if ci.id == id {
			return ci, true
		}
	}
	return calendarInfo{}, false
}

// instances returns the calendar's events overlapping [from, to) (zero
// bounds are open), recurring ones expanded when expand is set, sorted by
// start then id. Unexpanded, a recurring event is listed once when any of
// its occurrences overlaps.
func (c *calendar) instances(cal string, from, to time.Time, expand bool) []instance {
	var out []instance
	overlaps := func(s, e time.Time) bool {
		return (from.IsZero() || e.After(from)) && (to.IsZero() || s.Before(to))
	}
	for _, e := range c.events {
		if e.calendar != cal {
			continue
		}
		if e.rrule == "" {
			if overlaps(e.start, e.end) {
				out = append(out, instance{event: e, start: e.start, end: e.end})
			}
			continue
		}
		occ := e.occurrences()
		dur := e.end.Sub(e.start)
		if !expand {
			if slices.ContainsFunc(occ, func(s time.Time) bool { return overlaps(s, s.Add(dur)) }) {
				out = append(out, instance{event: e, start: e.start, end: e.end})
			}
			continue
		}
		for _, s := range occ {
			if overlaps(s, s.Add(dur)) {
				out = append(out, instance{event: e, start: s, end: s.Add(dur), recurring: true})
			}
		}
	}
	slices.SortFunc(out, func(a, b instance) int {
		if d := a.start.Compare(b.start); d != 0 {
			return d
		}
		return strings.Compare(a.instanceID(), b.instanceID())
	})
	return out
}

// occurrences expands the recurrence rule with its exceptions.
func (e *event) occurrences() []time.Time {
	set := &rrule.Set{}
	r, err := rrule.StrToRRule(e.rrule)
	if err != nil {
		panic(fmt.Sprintf("demo: event %s: %v", e.id, err)) // the rules are constants above
	}
	r.DTStart(e.start)
	set.RRule(r)
	for _, x := range e.exdates {
		set.ExDate(x)
	}
	return set.All()
}

// recurrence is the event's RFC 5545 lines as Google lists them.
func (e *event) recurrence() []string {
	if e.rrule == "" {
		return nil
	}
	out := []string{"RRULE:" + e.rrule}
	for _, x := range e.exdates {
		out = append(out, "EXDATE:"+x.UTC().Format("20060102T150405Z"))
	}
	return out
}

// instanceID is Google's id of an occurrence: {eventId}_{start in UTC}.
func (i instance) instanceID() string {
	if !i.recurring {
		return i.id
	}
	return i.id + "_" + i.start.UTC().Format("20060102T150405Z")
}

// busy is the merged busy time of a calendar within [from, to): confirmed
// and tentative events that are not marked free, clipped to the range.
func (c *calendar) busy(cal string, from, to time.Time) [][2]time.Time {
	var out [][2]time.Time
	for _, in := range c.instances(cal, from, to, true) {
		if in.transparent {
			continue
		}
		s, e := maxTime(in.start, from), minTime(in.end, to)
		if n := len(out); n > 0 && !s.After(out[n-1][1]) {
			out[n-1][1] = maxTime(out[n-1][1], e)
			continue
		}
		out = append(out, [2]time.Time{s, e})
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
