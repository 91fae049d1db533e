package caldav

import (
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// zones resolves TZIDs for one listing, caching each: by name when the
// name says the zone, else by the VTIMEZONE that defines it (two objects
// may both say "Customized Time Zone" and mean different zones).
type zones struct {
	byName map[string]zone
	byVTZ  map[*ical.Component]zone
	// floating is the zone of floating times: the calendar's, else UTC.
	// It is asked for only when a floating time turns up.
	floating func() *time.Location
}

// zone is a resolved TZID: the location and, when it is an IANA zone, its
// name (a zone rebuilt from VTIMEZONE offsets has none).
type zone struct {
	loc  *time.Location
	name string
}

func newZones(floating func() *time.Location) *zones {
	return &zones{byName: map[string]zone{}, byVTZ: map[*ical.Component]zone{}, floating: floating}
}

// resolve maps a TZID to a zone: an IANA name as it is; a Windows name
// (Exchange) through the CLDR table; a prefixed IANA name such as
// "/mozilla.org/20050126_1/Europe/Berlin"; the X-LIC-LOCATION of its
// VTIMEZONE; else the zone its VTIMEZONE defines; else the floating zone.
func (z *zones) resolve(tzid string, vtz *ical.Component) zone {
	if zn, ok := z.byName[tzid]; ok {
		return zn
	}
	if zn, ok := z.byVTZ[vtz]; ok && vtz != nil {
		return zn
	}
	if zn, ok := ianaOrWindows(tzid); ok {
		z.byName[tzid] = zn
		return zn
	}
	if vtz == nil {
		return zone{loc: z.floating()}
	}
	zn, ok := zone{}, false
	if p := vtz.Props.Get("X-LIC-LOCATION"); p != nil {
		zn, ok = ianaOrWindows(p.Value)
	}
	if !ok {
		zn.loc, ok = vtimezoneLocation(tzid, vtz)
	}
	if !ok {
		zn = zone{loc: z.floating()}
	}
	z.byVTZ[vtz] = zn
	return zn
}

// ianaOrWindows resolves a name that is, or ends in, an IANA zone, or is a
// Windows zone name.
func ianaOrWindows(name string) (zone, bool) {
	name = strings.TrimSpace(strings.Trim(name, `"`))
	if zn, ok := iana(name); ok {
		return zn, true
	}
	if id, ok := windowsZones[name]; ok {
		return iana(id)
	}
	parts := strings.Split(strings.Trim(name, "/"), "/")
	for n := min(3, len(parts)-1); n >= 2; n-- {
		if zn, ok := iana(strings.Join(parts[len(parts)-n:], "/")); ok {
			return zn, true
		}
	}
	return zone{}, false
}

func iana(name string) (zone, bool) {
	// "Local" would be the broker's own zone, not the calendar's.
	if name == "" || name == "Local" || strings.HasPrefix(name, "/") {
		return zone{}, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return zone{}, false
	}
	return zone{loc: loc, name: loc.String()}, true
}

// parseOffset reads a UTC offset such as -0500 or +053000 as seconds.
func parseOffset(s string) (int, bool) {
	if len(s) != 5 && len(s) != 7 || s[0] != '+' && s[0] != '-' {
		return 0, false
	}
	n := 0
	for i, r := range s[1:] {
		if r < '0' || r > '9' {
			return 0, false
		}
		d := int(r - '0')
		switch i {
		case 0:
			n += d * 36000
		case 1:
			n += d * 3600
		case 2:
			n += d * 600
		case 3:
			n += d * 60
		case 4:
			n += d * 10
		case 5:
			n += d
		}
	}
	if s[0] == '-' {
		n = -n
	}
	return n, true
}

// calendarZone is a calendar's zone from its calendar-timezone-id
// (RFC 7809) or the VTIMEZONE of its calendar-timezone (RFC 4791).
func calendarZone(p davProp) zone {
	if zn, ok := ianaOrWindows(p.TimeZoneID); ok {
		return zn
	}
	if p.TimeZone == "" {
		return zone{}
	}
	cal, err := ical.NewDecoder(strings.NewReader(p.TimeZone)).Decode()
	if err != nil {
		return zone{}
	}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		if id := c.Props.Get(ical.PropTimezoneID); id != nil {
			if zn, ok := ianaOrWindows(id.Value); ok {
				return zn
			}
		}
		if p := c.Props.Get("X-LIC-LOCATION"); p != nil {
			if zn, ok := ianaOrWindows(p.Value); ok {
				return zn
			}
		}
	}
	return zone{}
}
