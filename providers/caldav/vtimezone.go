package caldav

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// The years a VTIMEZONE's transitions are computed for; outside them the
// nearest offset holds.
var vtzFrom, vtzTo = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// vtimezoneLocation builds a time.Location from a VTIMEZONE's STANDARD and
// DAYLIGHT observances (their DTSTART, RRULE and RDATE onsets), for a zone
// known by nothing else (Outlook's "Customized Time Zone", a localized
// display name). It goes through TZif data, so a series in such a zone is
// walked in its wall clock like one in an IANA zone.
func vtimezoneLocation(tzid string, vtz *ical.Component) (*time.Location, bool) {
	type obs struct {
		off  int
		dst  bool
		abbr string
	}
	type transition struct {
		at  int64
		typ int
	}
	var types []obs
	var trs []transition
	for _, c := range vtz.Children {
		if c.Name != ical.CompTimezoneStandard && c.Name != ical.CompTimezoneDaylight {
			continue
		}
		to, ok := offsetProp(c, ical.PropTimezoneOffsetTo)
		if !ok {
			continue
		}
		from, ok := offsetProp(c, ical.PropTimezoneOffsetFrom)
		if !ok {
			from = to
		}
		p := c.Props.Get(ical.PropDateTimeStart)
		if p == nil {
			continue
		}
		start, err := time.Parse("20060102T150405", strings.TrimSpace(p.Value))
		if err != nil {
			continue
		}
		o := obs{off: to, dst: c.Name == ical.CompTimezoneDaylight}
		o.abbr, _ = c.Props.Text(ical.PropTimezoneName)
		typ := slices.Index(types, o)
		if typ < 0 {
			types, typ = append(types, o), len(types)
		}
		add := func(wall time.Time) {
			if !wall.Before(vtzFrom) && wall.Before(vtzTo) {
				trs = append(trs, transition{wall.Unix() - int64(from), typ})
			}
		}
		add(start)
		if r := c.Props.Get(ical.PropRecurrenceRule); r != nil {
			// Onsets are wall times: walked as if UTC, then shifted. Exchange
			// starts its rules in 1601: the walk begins just before 1900.
			if next, ok := rule(r.Value, start, vtzFrom); ok {
				for range 2000 {
					t, more := next()
					if !more || !t.Before(vtzTo) {
						break
					}
					add(t)
				}
			}
		}
		for _, r := range c.Props[ical.PropRecurrenceDates] {
			for _, v := range strings.Split(r.Value, ",") {
				if t, err := time.Parse("20060102T150405", strings.TrimSpace(v)); err == nil {
					add(t)
				}
			}
		}
	}
	if len(types) == 0 {
		return nil, false
	}
	slices.SortFunc(trs, func(a, b transition) int { return int(min(max(a.at-b.at, -1), 1)) })
	trs = slices.CompactFunc(trs, func(a, b transition) bool { return a.at == b.at })
	// Before the first transition Go takes the first non-DST type: list
	// the standard observances first.
	order := make([]int, len(types))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if types[a].dst == types[b].dst {
			return 0
		}
		if types[a].dst {
			return 1
		}
		return -1
	})
	pos := make([]int, len(types))
	for newIdx, old := range order {
		pos[old] = newIdx
	}
	var abbrevs []byte
	tzif := []byte("TZif2" + strings.Repeat("\x00", 15))
	tzif = append(tzif, make([]byte, 24)...) // an empty version 1 block
	tzif = append(tzif, "TZif2"+strings.Repeat("\x00", 15)...)
	for _, n := range []int{0, 0, 0, len(trs), len(types)} {
		tzif = binary.BigEndian.AppendUint32(tzif, uint32(n))
	}
	infos := make([]byte, 0, 6*len(types))
	for _, old := range order {
		o := types[old]
		infos = binary.BigEndian.AppendUint32(infos, uint32(int32(o.off)))
		dst := byte(0)
		if o.dst {
			dst = 1
		}
		infos = append(infos, dst, byte(len(abbrevs)))
		abbrevs = append(append(abbrevs, o.abbr...), 0)
	}
	tzif = binary.BigEndian.AppendUint32(tzif, uint32(len(abbrevs)))
	for _, t := range trs {
		tzif = binary.BigEndian.AppendUint64(tzif, uint64(t.at))
	}
	for _, t := range trs {
		tzif = append(tzif, byte(pos[t.typ]))
	}
	tzif = append(append(append(tzif, infos...), abbrevs...), "\n\n"...)
	if len(abbrevs) > 255 {
		return nil, false
	}
	loc, err := time.LoadLocationFromTZData(tzid, tzif)
	return loc, err == nil
}

func offsetProp(c *ical.Component, name string) (int, bool) {
	p := c.Props.Get(name)
	if p == nil {
		return 0, false
	}
	return parseOffset(strings.TrimSpace(p.Value))
}
