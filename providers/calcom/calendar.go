package calcom

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/oauthbroker/broker/providers"
)

var _ providers.CalendarReader = Room{}

// BookingsCalendar is the one calendar of a Cal.com connection: its
// bookings. Cal.com has no calendars of its own to list.
const BookingsCalendar = "bookings"

// take is GET /bookings' largest page (Cal.com allows 1 to 250).
const take = 250

// maxPages bounds one listing (take × maxPages bookings).
const maxPages = 2000

// lookback widens the query on both sides. Cal.com filters on a booking's
// start (afterStart) and end (beforeEnd) separately, never on overlap, so a
// booking that starts before the window and ends in it is found only by
// asking from earlier; bookings longer than lookback that cross an edge of
// the window are not found (docs/providers.md).
const lookback = 24 * time.Hour

// bookingsPage holds only what the broker maps: attendees, hosts,
// description, location, meeting URL and booking responses are never
// decoded.
type bookingsPage struct {
	Data []struct {
		ID           json.Number `json:"id"`
		UID          string      `json:"uid"`
		Title        string      `json:"title"`
		Status       string      `json:"status"`
		Start        string      `json:"start"`
		End          string      `json:"end"`
		UpdatedAt    string      `json:"updatedAt"`
		RecurringUID string      `json:"recurringBookingUid"`
	} `json:"data"`
	Pagination *struct {
		HasNextPage bool `json:"hasNextPage"`
	} `json:"pagination"`
}

// ListCalendars implements providers.CalendarReader: the bookings, one
// read-only primary calendar, without a provider call.
func (Room) ListCalendars(context.Context, providers.CalendarCall) ([]providers.Calendar, error) {
	return []providers.Calendar{{ID: BookingsCalendar, Name: "Cal.com bookings", Primary: true, ReadOnly: true}}, nil
}

// ListEvents implements providers.CalendarReader with GET /bookings (the
// version named by the catalog's static cal-api-version header), sorted by
// start and paged with take/skip to the last page.
func (Room) ListEvents(ctx context.Context, call providers.CalendarCall, calendarID string, from, to time.Time, fn func(providers.Event) error) error {
	if calendarID != BookingsCalendar {
		return &providers.UpstreamError{Status: http.StatusNotFound}
	}
	q := url.Values{
		"afterStart": {from.Add(-lookback).UTC().Format(time.RFC3339)}, "beforeEnd": {to.Add(lookback).UTC().Format(time.RFC3339)},
		"sortStart": {"asc"}, "take": {strconv.Itoa(take)},
	}
	for skip, n := 0, 0; ; n++ {
		if n == maxPages {
			return &providers.UpstreamError{Reason: "too many pages"}
		}
		q.Set("skip", strconv.Itoa(skip))
		var page bookingsPage
		if err := call.GetJSON(ctx, "/bookings?"+q.Encode(), &page); err != nil {
			return err
		}
		for _, b := range page.Data {
			ev, err := event(b.UID, b.ID.String(), b.Status, b.Start, b.End)
			if err != nil {
				return err
			}
			if !ev.Start.Before(to) || !ev.End.After(from) {
				continue // read only for the lookback
			}
			ev.Title, ev.RecurringEventID = b.Title, b.RecurringUID
			ev.Updated, _ = time.Parse(time.RFC3339, b.UpdatedAt)
			if err := fn(ev); err != nil {
				return err
			}
		}
		skip += len(page.Data)
		more := len(page.Data) == take // a deployment without pagination metadata
		if page.Pagination != nil {
			more = page.Pagination.HasNextPage
		}
		if !more || len(page.Data) == 0 {
			return nil
		}
	}
}

// event maps a booking's identity, status and times: accepted is confirmed
// and busy, cancelled and rejected are cancelled, pending (and any status
// Cal.com adds later) is tentative and still busy, so that an unconfirmed
// booking is never sold twice.
func event(uid, id, status, start, end string) (providers.Event, error) {
	ev := providers.Event{ID: uid, CalendarID: BookingsCalendar, Status: providers.StatusTentative, Transparency: providers.Busy}
	if ev.ID == "" {
		ev.ID = id
	}
	switch status {
	case "accepted":
		ev.Status = providers.StatusConfirmed
	case "cancelled", "rejected":
		ev.Status = providers.StatusCancelled
	}
	var err1, err2 error
	ev.Start, err1 = time.Parse(time.RFC3339, start)
	ev.End, err2 = time.Parse(time.RFC3339, end)
	if err1 != nil || err2 != nil || ev.ID == "" {
		return ev, &providers.UpstreamError{Reason: "booking without an id or a valid start or end"}
	}
	return ev, nil
}
