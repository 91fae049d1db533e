package microsoft

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/oauthbroker/broker/providers"
)

var _ providers.CalendarReader = Room{}

// maxPageSize is asked of Graph with Prefer: odata.maxpagesize: its largest
// page for events, the fewest round trips. Graph may answer less.
const maxPageSize = 1000

// maxPages bounds one listing: a provider that keeps answering nextLinks
// is cut off rather than followed until the call's deadline.
const maxPages = 2000

// Only what the broker maps is asked for ($select) and decoded: attendees,
// body, location, organizer and online meeting never cross the wire.
const (
	calendarFields = "id,name,isDefaultCalendar,canEdit"
	eventFields    = "id,subject,start,end,isAllDay,showAs,isCancelled,type,seriesMasterId,lastModifiedDateTime"
)

// preferEvents: times in UTC (all-day events stay at midnight whatever the
// zone), and pages as large as Graph gives. Sent on every page: Graph does
// not carry preferences along a nextLink.
var preferEvents = []string{`outlook.timezone="UTC"`, "odata.maxpagesize=" + strconv.Itoa(maxPageSize)}

type gCalendars struct {
	Value []struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		IsDefaultCalendar bool   `json:"isDefaultCalendar"`
		CanEdit           bool   `json:"canEdit"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

type gTime struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type gEvents struct {
	Value []struct {
		ID             string `json:"id"`
		Subject        string `json:"subject"`
		Start          gTime  `json:"start"`
		End            gTime  `json:"end"`
		IsAllDay       bool   `json:"isAllDay"`
		ShowAs         string `json:"showAs"`
		IsCancelled    bool   `json:"isCancelled"`
		Type           string `json:"type"`
		SeriesMasterID string `json:"seriesMasterId"`
		LastModified   string `json:"lastModifiedDateTime"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// ListCalendars implements providers.CalendarReader with GET /me/calendars.
// Graph gives a calendar no time zone (the mailbox has one).
func (Room) ListCalendars(ctx context.Context, call providers.CalendarCall) ([]providers.Calendar, error) {
	var out []providers.Calendar
	err := pages(ctx, call, "/me/calendars?"+url.Values{"$select": {calendarFields}}.Encode(), nil, func(body io.Reader) (string, error) {
		var page gCalendars
		if err := json.NewDecoder(body).Decode(&page); err != nil {
			return "", &providers.UpstreamError{Reason: "malformed JSON"}
		}
		for _, c := range page.Value {
			out = append(out, providers.Calendar{ID: c.ID, Name: c.Name, Primary: c.IsDefaultCalendar, ReadOnly: !c.CanEdit})
		}
		return page.NextLink, nil
	})
	return out, err
}

// ListEvents implements providers.CalendarReader with calendarView, which
// expands recurring series into occurrences and exceptions in the window,
// following @odata.nextLink to the end.
func (Room) ListEvents(ctx context.Context, call providers.CalendarCall, calendarID string, from, to time.Time, fn func(providers.Event) error) error {
	q := url.Values{
		"startDateTime": {from.UTC().Format(time.RFC3339)}, "endDateTime": {to.UTC().Format(time.RFC3339)},
		"$select": {eventFields},
	}
	first := "/me/calendars/" + url.PathEscape(calendarID) + "/calendarView?" + q.Encode()
	return pages(ctx, call, first, preferEvents, func(body io.Reader) (string, error) {
		var page gEvents
		if err := json.NewDecoder(body).Decode(&page); err != nil {
			return "", &providers.UpstreamError{Reason: "malformed JSON"}
		}
		for _, it := range page.Value {
			ev := providers.Event{ID: it.ID, CalendarID: calendarID, Title: it.Subject,
				Status: providers.StatusConfirmed, Transparency: providers.Busy}
			// showAs: free is the only one that leaves the slot open;
			// tentative is busy but not confirmed; busy, oof,
			// workingElsewhere and unknown are busy.
			switch it.ShowAs {
			case "free":
				ev.Transparency = providers.Free
			case "tentative":
				ev.Status = providers.StatusTentative
			}
			if it.IsCancelled {
				ev.Status = providers.StatusCancelled
			}
			if it.Type == "occurrence" || it.Type == "exception" {
				ev.RecurringEventID = it.SeriesMasterID
			}
			ev.Updated, _ = time.Parse(time.RFC3339, it.LastModified)
			if it.IsAllDay {
				// Graph keeps an all-day event at midnight in any zone:
				// its dates are the date parts.
				ev.AllDay = true
				ev.StartDate, ev.EndDate = datePart(it.Start.DateTime), datePart(it.End.DateTime)
				if ev.StartDate == "" {
					return "", &providers.UpstreamError{Reason: "all-day event without a valid start"}
				}
				if ev.EndDate == "" {
					ev.EndDate = ev.StartDate
				}
			} else {
				var err1, err2 error
				ev.Start, err1 = graphTime(it.Start)
				ev.End, err2 = graphTime(it.End)
				if err1 != nil || err2 != nil {
					return "", &providers.UpstreamError{Reason: "event without a valid start or end"}
				}
			}
			if err := fn(ev); err != nil {
				return "", err
			}
		}
		return page.NextLink, nil
	})
}

// datePart is the YYYY-MM-DD of a Graph dateTime, "" when it has none.
func datePart(s string) string {
	if len(s) < len(time.DateOnly) {
		return ""
	}
	if _, err := time.Parse(time.DateOnly, s[:len(time.DateOnly)]); err != nil {
		return ""
	}
	return s[:len(time.DateOnly)]
}

// graphTime reads a dateTimeTimeZone: a local time without offset (with up
// to seven fractional digits) in timeZone, UTC as asked for; an IANA zone
// is read too, a Windows zone name is refused (it was not asked for).
func graphTime(t gTime) (time.Time, error) {
	loc := time.UTC
	if t.TimeZone != "" && t.TimeZone != "UTC" {
		l, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			return time.Time{}, err
		}
		loc = l
	}
	if v, err := time.Parse(time.RFC3339, t.DateTime); err == nil {
		return v, nil
	}
	// Parsing accepts a fractional second after the seconds field.
	return time.ParseInLocation("2006-01-02T15:04:05", t.DateTime, loc)
}

// pages GETs first (a path under the base URL), hands each answer's body to
// page, and follows the nextLink it returns until there is none. A nextLink
// must stay under the base URL: a provider never steers the credential to
// another origin.
func pages(ctx context.Context, call providers.CalendarCall, first string, prefer []string, page func(io.Reader) (string, error)) error {
	next := call.BaseURL + first
	for n := 0; next != ""; n++ {
		if n == maxPages {
			return &providers.UpstreamError{Reason: "too many pages"}
		}
		if n > 0 && !underBase(call.BaseURL, next) {
			return &providers.UpstreamError{Reason: "nextLink outside the API base URL"}
		}
		var link string
		err := call.Get(ctx, next, http.Header{"Prefer": prefer}, func(r io.Reader) (err error) {
			link, err = page(r)
			return err
		})
		if err != nil {
			return err
		}
		if link == next {
			return &providers.UpstreamError{Reason: "nextLink repeats the page"}
		}
		next = link
	}
	return nil
}

// underBase: link has the scheme and host of base, no user info, and a
// clean path below base's path.
func underBase(base, link string) bool {
	b, err1 := url.Parse(base)
	l, err2 := url.Parse(link)
	if err1 != nil || err2 != nil || l.User != nil || l.Opaque != "" {
		return false
	}
	p := l.Path
	return strings.EqualFold(l.Scheme, b.Scheme) && strings.EqualFold(l.Host, b.Host) &&
		path.Clean(p) == p && strings.HasPrefix(p, strings.TrimRight(b.Path, "/")+"/")
}
