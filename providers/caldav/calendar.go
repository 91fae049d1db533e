package caldav

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/oauthbroker/broker/providers"
)

var _ providers.CalendarReader = Room{}

const (
	// sliceSpan is the window of one REPORT: a year is four, and a slice
	// whose answer is over maxBody is asked again in halves.
	sliceSpan = 92 * 24 * time.Hour
	minSlice  = 24 * time.Hour
	// margin widens each REPORT: servers evaluate floating and all-day
	// times in a zone of their own, so the adapter asks a day more on both
	// sides and keeps exactly what overlaps.
	margin = 24 * time.Hour
	// maxPerSeries and maxSteps bound the expansion of one series in one
	// REPORT: the occurrences kept and the recurrence steps walked.
	maxPerSeries = 5000
	maxSteps     = 200_000
)

// eventProps are the only VEVENT properties the REPORT asks for: a server
// that honours calendar-data sends nothing personal beyond the title.
var eventProps = []string{
	ical.PropUID, ical.PropSummary, ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration,
	ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, ical.PropRecurrenceID,
	ical.PropStatus, ical.PropTransparency, ical.PropLastModified, ical.PropDateTimeStamp,
}

// ListCalendars implements providers.CalendarReader: current-user-principal,
// its calendar-home-set, then the calendars there. The primary calendar is
// the scheduling default (RFC 6638 schedule-default-calendar-URL) when the
// server names one, else the first calendar it lists.
func (Room) ListCalendars(ctx context.Context, call providers.CalendarCall) ([]providers.Calendar, error) {
	dc, err := newDAVClient(call)
	if err != nil {
		return nil, err
	}
	wc, err := webdav.NewClient(dc, dc.base.String())
	if err != nil {
		return nil, err
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err = dc.result(ctx, err); err != nil {
		return nil, err
	}
	if principal == "" {
		return nil, &providers.UpstreamError{Reason: "no current-user-principal"}
	}
	cc, err := caldav.NewClient(dc, dc.base.String())
	if err != nil {
		return nil, err
	}
	home, err := cc.FindCalendarHomeSet(ctx, principal)
	if err = dc.result(ctx, err); err != nil {
		return nil, err
	}
	if home == "" {
		return nil, &providers.UpstreamError{Reason: "no calendar home set"}
	}
	rs, err := dc.propfind(ctx, home, "1", calendarProps)
	if err != nil {
		return nil, err
	}
	var out []providers.Calendar
	var defaultPath string
	for _, r := range rs {
		p := r.props()
		if p.DefaultCalendar != nil {
			defaultPath = resolveHref(home, p.DefaultCalendar.Href)
		}
		if p.ResourceType == nil || p.ResourceType.Calendar == nil || !p.events() {
			continue
		}
		cp := resolveHref(home, r.Href)
		if cp == "" {
			continue
		}
		out = append(out, providers.Calendar{ID: dc.id(cp), Name: p.DisplayName,
			ReadOnly: p.Privileges != nil && !p.writable(), TimeZone: calendarZone(p).name})
	}
	primary := 0
	for i, c := range out {
		if defaultPath != "" && strings.TrimSuffix(c.ID, "/") == strings.TrimSuffix(dc.id(defaultPath), "/") {
			primary = i
		}
	}
	if len(out) > 0 {
		out[primary].Primary = true
	}
	return out, nil
}

// resolveHref is the decoded absolute path of an href, relative ones taken
// against the collection asked.
func resolveHref(base, href string) string {
	p := hrefPath(href)
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	j := path.Join(base, p)
	if strings.HasSuffix(p, "/") {
		j += "/"
	}
	return j
}

// ListEvents implements providers.CalendarReader: a calendar-query REPORT
// with a VEVENT time-range per slice of the window, every series expanded
// here (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides). Each event is
// handed over by the slice its start falls in, so none comes twice.
func (Room) ListEvents(ctx context.Context, call providers.CalendarCall, calendarID string, from, to time.Time, fn func(providers.Event) error) error {
	dc, err := newDAVClient(call)
	if err != nil {
		return err
	}
	calPath, err := dc.path(calendarID)
	if err != nil {
		return &providers.UpstreamError{Status: http.StatusNotFound}
	}
	cc, err := caldav.NewClient(dc, dc.base.String())
	if err != nil {
		return err
	}
	l := &lister{ctx: ctx, dc: dc, cc: cc, calendarID: calendarID, path: calPath, from: from, to: to, fn: fn}
	l.zones = newZones(l.floating)
	for a := from; a.Before(to); {
		b := a.Add(sliceSpan)
		if b.After(to) {
			b = to
		}
		if err := l.slice(a, b); err != nil {
			return err
		}
		a = b
	}
	return nil
}

type lister struct {
	ctx            context.Context
	dc             *davClient
	cc             *caldav.Client
	calendarID     string
	path           string
	from, to       time.Time
	fn             func(providers.Event) error
	zones          *zones
	floatingLoc    *time.Location
	floatingLoaded bool
}

// floating is the calendar's zone, asked once and only when a floating
// time turns up; UTC when the server tells none.
func (l *lister) floating() *time.Location {
	if !l.floatingLoaded {
		l.floatingLoaded, l.floatingLoc = true, time.UTC
		zc := &davClient{call: l.dc.call, base: l.dc.base}
		if rs, err := zc.propfind(l.ctx, l.path, "0", zoneProps); err == nil && len(rs) > 0 {
			if zn := calendarZone(rs[0].props()); zn.loc != nil {
				l.floatingLoc = zn.loc
			}
		}
	}
	return l.floatingLoc
}

func (l *lister) slice(a, b time.Time) error {
	q := &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: ical.CompCalendar, Props: []string{ical.PropVersion}, Comps: []caldav.CalendarCompRequest{
			{Name: ical.CompEvent, Props: eventProps},
			{Name: ical.CompTimezone, AllProps: true, AllComps: true},
		}},
		CompFilter: caldav.CompFilter{Name: ical.CompCalendar, Comps: []caldav.CompFilter{
			{Name: ical.CompEvent, Start: a.Add(-margin).UTC(), End: b.Add(margin).UTC()},
		}},
	}
	objs, err := l.cc.QueryCalendar(l.ctx, l.path, q)
	if err = l.dc.result(l.ctx, err); err != nil {
		if errors.Is(err, errTooLarge) && b.Sub(a) >= 2*minSlice {
			l.dc.err = nil
			mid := a.Add(b.Sub(a) / 2).Truncate(time.Second)
			if err := l.slice(a, mid); err != nil {
				return err
			}
			return l.slice(mid, b)
		}
		return err
	}
	for _, o := range objs {
		if o.Data == nil {
			continue
		}
		if err := l.object(o.Data, o.Path, a, b); err != nil {
			return err
		}
	}
	return nil
}

// series is one UID of an object: its master and its overrides.
type series struct {
	master    *vevent
	overrides []vevent
}

func (l *lister) object(cal *ical.Calendar, href string, a, b time.Time) error {
	vtz := vtimezones(cal)
	byUID := map[string]*series{}
	var order []string
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		ev, ok := parseEvent(c, vtz, l.zones)
		if !ok {
			continue
		}
		if ev.uid == "" {
			ev.uid = href // invalid without a UID, but still busy
		}
		s := byUID[ev.uid]
		if s == nil {
			s = &series{}
			byUID[ev.uid] = s
			order = append(order, ev.uid)
		}
		if ev.rid == "" {
			s.master = &ev
		} else {
			s.overrides = append(s.overrides, ev)
		}
	}
	for _, uid := range order {
		s := byUID[uid]
		if m := s.master; m != nil {
			var err error
			if m.rrule == "" && len(m.rdates) == 0 {
				err = l.emit(*m, uid, "", a, b)
			} else {
				err = l.expand(m, s.overrides, a, b)
			}
			if err != nil {
				return err
			}
		}
		for _, o := range s.overrides {
			if o.title == "" && s.master != nil {
				o.title = s.master.title
			}
			if o.dur == (span{}) && s.master != nil {
				o.dur = s.master.dur
			}
			if err := l.emit(o, uid+"_"+o.rid, uid, a, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// want tells whether ev overlaps the window and starts in slice [a, b)
// (the first slice also takes what started before, the last what starts
// after). An all-day event is dates: the broker places it in the query's
// zone, so it passes when within a day of the window.
func (l *lister) want(ev *vevent, a, b time.Time) bool {
	s, e := ev.start, ev.dur.end(ev.start)
	if ev.allDay {
		if !s.Add(-margin).Before(l.to) || !e.Add(margin).After(l.from) {
			return false
		}
	} else if !s.Before(l.to) || !(e.After(l.from) || e.Equal(s) && !s.Before(l.from)) {
		return false
	}
	return (!s.Before(a) || a.Equal(l.from)) && (s.Before(b) || b.Equal(l.to))
}

func (l *lister) emit(ev vevent, id, recurring string, a, b time.Time) error {
	if !l.want(&ev, a, b) {
		return nil
	}
	return l.fn(ev.toEvent(l.calendarID, id, recurring))
}

// expand emits the occurrences of a recurring master in slice [a, b): the
// RRULE's (walked in the start's zone, so a weekly 09:00 stays 09:00
// across a DST change), DTSTART and the RDATEs, less the EXDATEs and the
// instances an override replaces.
func (l *lister) expand(m *vevent, overrides []vevent, a, b time.Time) error {
	skip := make(map[string]bool, len(m.exdate)+len(overrides))
	for k := range m.exdate {
		skip[k] = true
	}
	for _, o := range overrides {
		skip[o.rid] = true
	}
	done := map[string]bool{}
	limit := b
	if b.Equal(l.to) {
		limit = b.Add(margin)
	}
	try := func(t time.Time) error {
		occ := *m
		occ.start = t
		if !l.want(&occ, a, b) {
			return nil
		}
		k := key(t, m.allDay)
		if skip[k] || done[k] || len(done) >= maxPerSeries || !m.allDay && skip[exDay+t.Format("20060102")] {
			return nil
		}
		done[k] = true
		return l.fn(occ.toEvent(l.calendarID, m.uid+"_"+k, m.uid))
	}
	if m.rrule != "" {
		loc := time.UTC
		if m.zone.loc != nil && !m.allDay {
			loc = m.zone.loc
		}
		// The earliest start that can still reach the window.
		notBefore := a.Add(-margin).AddDate(0, 0, -m.dur.days-1).Add(-m.dur.exact)
		if next, ok := rule(m.rrule, m.start.In(loc), notBefore); ok {
			for range maxSteps {
				t, more := next()
				if !more || !t.Before(limit) {
					break
				}
				if err := try(t); err != nil {
					return err
				}
			}
		}
	}
	for _, t := range append([]time.Time{m.start}, m.rdates...) {
		if m.allDay {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		if err := try(t); err != nil {
			return err
		}
	}
	return nil
}
