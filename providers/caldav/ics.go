package caldav

import (
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/oauthbroker/broker/providers"
	"github.com/teambition/rrule-go"
)

// vevent is one VEVENT as the adapter reads it: times, status, the title
// and the recurrence, nothing else (no attendee, organizer, description,
// location or URL is ever read).
type vevent struct {
	uid    string
	rid    string    // RECURRENCE-ID key; "" for a master or single event
	start  time.Time // an instant; all-day: the date at 00:00 UTC
	allDay bool
	zone   zone
	dur    span
	status string
	transp string
	title  string
	upd    time.Time
	rrule  string
	rdates []time.Time
	exdate map[string]bool // instance keys, and exDay+date for a date
}

// exDay prefixes an EXDATE that is a date in a timed series.
const exDay = "day:"

// span is an event's length: nominal days (wall-clock days in the event's
// zone, RFC 5545 §3.3.6) plus an exact duration.
type span struct {
	days  int
	exact time.Duration
}

func (s span) end(t time.Time) time.Time { return t.AddDate(0, 0, s.days).Add(s.exact) }

// key names one instance of a series: its start as RECURRENCE-ID would,
// in UTC (a date for an all-day series). It is stable, so an occurrence
// keeps its id when the series is edited elsewhere.
func key(t time.Time, allDay bool) string {
	if allDay {
		return t.Format("20060102")
	}
	return t.UTC().Format("20060102T150405Z")
}

// vtimezones indexes the VTIMEZONEs of an object by TZID.
func vtimezones(cal *ical.Calendar) map[string]*ical.Component {
	out := map[string]*ical.Component{}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			if id := c.Props.Get(ical.PropTimezoneID); id != nil {
				out[id.Value] = c
			}
		}
	}
	return out
}

// parseTime reads one DATE or DATE-TIME value of p: UTC, with a TZID, or
// floating.
func parseTime(p *ical.Prop, value string, vtz map[string]*ical.Component, z *zones) (time.Time, bool, zone, error) {
	v := strings.TrimSpace(value)
	if strings.EqualFold(p.Params.Get(ical.ParamValue), "DATE") || len(v) == 8 {
		t, err := time.ParseInLocation("20060102", v, time.UTC)
		return t, true, zone{}, err
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.Parse("20060102T150405Z", v)
		return t, false, zone{loc: time.UTC, name: "UTC"}, err
	}
	var zn zone
	if tzid := p.Params.Get(ical.PropTimezoneID); tzid != "" {
		zn = z.resolve(tzid, vtz[tzid])
	} else {
		loc := z.floating()
		zn = zone{loc: loc, name: loc.String()}
	}
	t, err := time.ParseInLocation("20060102T150405", v, zn.loc)
	return t, false, zn, err
}

// parseTimes reads every value of the props (EXDATE and RDATE may list
// several, comma-separated; an RDATE period counts by its start), and
// which of them are dates.
func parseTimes(props []ical.Prop, vtz map[string]*ical.Component, z *zones) ([]time.Time, []bool) {
	var out []time.Time
	var dates []bool
	for i := range props {
		for _, v := range strings.Split(props[i].Value, ",") {
			v, _, _ = strings.Cut(v, "/")
			if t, date, _, err := parseTime(&props[i], v, vtz, z); err == nil {
				out, dates = append(out, t), append(dates, date)
			}
		}
	}
	return out, dates
}

// parseEvent reads a VEVENT; ok is false for one without a usable start.
func parseEvent(c *ical.Component, vtz map[string]*ical.Component, z *zones) (vevent, bool) {
	ev := vevent{status: providers.StatusConfirmed, transp: providers.Busy}
	ev.uid, _ = c.Props.Text(ical.PropUID)
	var err error
	if p := c.Props.Get(ical.PropRecurrenceID); p != nil {
		t, allDay, _, err := parseTime(p, p.Value, vtz, z)
		if err != nil {
			return ev, false
		}
		ev.rid = key(t, allDay)
		ev.start, ev.allDay = t, allDay // until DTSTART says otherwise
	}
	p := c.Props.Get(ical.PropDateTimeStart)
	if p == nil && ev.rid == "" {
		return ev, false
	}
	if p != nil {
		if ev.start, ev.allDay, ev.zone, err = parseTime(p, p.Value, vtz, z); err != nil {
			return ev, false
		}
	}
	switch {
	case c.Props.Get(ical.PropDateTimeEnd) != nil:
		e := c.Props.Get(ical.PropDateTimeEnd)
		end, _, _, err := parseTime(e, e.Value, vtz, z)
		switch {
		case err != nil:
		case ev.allDay:
			ev.dur.days = int(end.Sub(ev.start).Hours()+12) / 24
		case end.After(ev.start):
			ev.dur.exact = end.Sub(ev.start)
		}
	case c.Props.Get(ical.PropDuration) != nil:
		ev.dur, _ = parseDuration(c.Props.Get(ical.PropDuration).Value)
	}
	if ev.allDay && ev.dur.days <= 0 {
		ev.dur = span{days: 1} // a date without an end is that one day
	}
	switch s, _ := c.Props.Text(ical.PropStatus); strings.ToUpper(s) {
	case "TENTATIVE":
		ev.status = providers.StatusTentative
	case "CANCELLED":
		ev.status = providers.StatusCancelled
	}
	if s, _ := c.Props.Text(ical.PropTransparency); strings.EqualFold(s, "TRANSPARENT") {
		ev.transp = providers.Free
	}
	ev.title, _ = c.Props.Text(ical.PropSummary)
	for _, name := range []string{ical.PropLastModified, ical.PropDateTimeStamp} {
		if p := c.Props.Get(name); p != nil {
			if t, _, _, err := parseTime(p, p.Value, vtz, z); err == nil {
				ev.upd = t.UTC()
				break
			}
		}
	}
	if p := c.Props.Get(ical.PropRecurrenceRule); p != nil && ev.rid == "" {
		ev.rrule = p.Value
	}
	if ev.rid == "" {
		ev.rdates, _ = parseTimes(c.Props[ical.PropRecurrenceDates], vtz, z)
		if ex, dates := parseTimes(c.Props[ical.PropExceptionDates], vtz, z); len(ex) > 0 {
			ev.exdate = make(map[string]bool, len(ex))
			for i, t := range ex {
				if dates[i] && !ev.allDay {
					// A date excluding from a timed series: that whole day.
					ev.exdate[exDay+t.Format("20060102")] = true
				} else {
					ev.exdate[key(t, ev.allDay)] = true
				}
			}
		}
	}
	return ev, true
}

// parseDuration reads an RFC 5545 duration (P1W, P1DT2H, PT90M, -PT5M);
// a negative one is no length.
func parseDuration(s string) (span, bool) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if !strings.HasPrefix(s, "P") {
		return span{}, false
	}
	var out span
	timePart := false
	num := ""
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			num += string(r)
			continue
		case r == 'T':
			timePart = true
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return span{}, false
		}
		num = ""
		switch {
		case r == 'W' && !timePart:
			out.days += 7 * n
		case r == 'D' && !timePart:
			out.days += n
		case r == 'H' && timePart:
			out.exact += time.Duration(n) * time.Hour
		case r == 'M' && timePart:
			out.exact += time.Duration(n) * time.Minute
		case r == 'S' && timePart:
			out.exact += time.Duration(n) * time.Second
		default:
			return span{}, false
		}
	}
	if neg || num != "" {
		return span{}, num == ""
	}
	return out, true
}

// toEvent is the adapter's view of one event or occurrence.
func (ev vevent) toEvent(calendarID, id, recurring string) providers.Event {
	out := providers.Event{ID: id, CalendarID: calendarID, Status: ev.status, Transparency: ev.transp,
		RecurringEventID: recurring, Updated: ev.upd, Title: ev.title, TimeZone: ev.zone.name}
	end := ev.dur.end(ev.start)
	if ev.allDay {
		out.AllDay, out.StartDate, out.EndDate = true, ev.start.Format(time.DateOnly), end.Format(time.DateOnly)
		out.TimeZone = ""
	} else {
		out.Start, out.End = ev.start, end
	}
	return out
}

// rule walks an RRULE from start, in start's zone. When the instances
// cannot depend on where the walk begins (no COUNT, a daily to yearly
// rule), it begins whole intervals later, at most a period before
// notBefore: a series from 2000 is not walked day by day to today, and one
// from 1700 not past rrule-go's reach (292 years, a time.Duration).
func rule(value string, start, notBefore time.Time) (func() (time.Time, bool), bool) {
	opt, err := rrule.StrToROptionInLocation(value, start.Location())
	if err != nil {
		return nil, false
	}
	opt.Dtstart = fastForward(opt, start, notBefore)
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, false
	}
	return r.Iterator(), true
}

func fastForward(opt *rrule.ROption, start, notBefore time.Time) time.Time {
	if opt.Count != 0 || !start.Before(notBefore) {
		return start
	}
	n := max(opt.Interval, 1)
	nb := notBefore.In(start.Location())
	var t time.Time
	switch opt.Freq {
	case rrule.YEARLY:
		k := (nb.Year() - start.Year() - 1) / n * n
		t = start.AddDate(k, 0, 0)
	case rrule.MONTHLY:
		months := (nb.Year()-start.Year())*12 + int(nb.Month()-start.Month()) - 1
		t = start.AddDate(0, months/n*n, 0)
	case rrule.WEEKLY:
		weeks := int(nb.Sub(start).Hours()/24)/7 - 1
		t = start.AddDate(0, 0, 7*(weeks/n*n))
	case rrule.DAILY:
		days := int(nb.Sub(start).Hours()/24) - 1
		t = start.AddDate(0, 0, days/n*n)
	default:
		return start
	}
	// A 31st or a 29 February that AddDate moved to another day: keep the
	// true start.
	if (opt.Freq == rrule.YEARLY || opt.Freq == rrule.MONTHLY) && t.Day() != start.Day() || t.Before(start) || !t.Before(notBefore) {
		return start
	}
	return t
}
