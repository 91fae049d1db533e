package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Calendar is one of a connection's calendars at its provider
// (GET /v1/connections/{id}/calendars).
type Calendar struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"` // only with FieldsetOwnPI
	Primary  bool   `json:"primary"`
	Selected bool   `json:"selected"` // counts for Events and FreeBusy
	ReadOnly bool   `json:"readOnly"`
	TimeZone string `json:"timeZone,omitempty"`
}

// Fieldsets: how much personal data events and calendars carry.
const (
	FieldsetNoPI  = "NO_PI"  // the default: no title, no calendar name
	FieldsetOwnPI = "OWN_PI" // titles and calendar names too
)

// Calendars lists the connection's calendars and which are selected;
// fieldset is FieldsetNoPI, FieldsetOwnPI or "" (NO_PI). A NEEDS_REAUTH
// connection is CodeNeedsReauth, a disconnected one CodeConflict.
func (c *Client) Calendars(ctx context.Context, connectionID, fieldset string) ([]Calendar, error) {
	q := url.Values{}
	if fieldset != "" {
		q.Set("fieldset", fieldset)
	}
	var out struct {
		Calendars []Calendar `json:"calendars"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/connections/"+url.PathEscape(connectionID)+"/calendars", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Calendars, nil
}

// SelectCalendars sets which of the connection's calendars count for
// Events and FreeBusy (by default only the primary one) and returns them
// all, without names. An id the account lacks is CodeInvalidArgument.
func (c *Client) SelectCalendars(ctx context.Context, connectionID string, selected []string) ([]Calendar, error) {
	if selected == nil {
		selected = []string{}
	}
	var out struct {
		Calendars []Calendar `json:"calendars"`
	}
	in := struct {
		Selected []string `json:"selected"`
	}{selected}
	if err := c.do(ctx, http.MethodPut, "/v1/connections/"+url.PathEscape(connectionID)+"/calendars", nil, in, &out); err != nil {
		return nil, err
	}
	return out.Calendars, nil
}

// EventsQuery selects events (GET /v1/events). From and To are sent to the
// second; zero values of the others mean the broker's defaults.
type EventsQuery struct {
	ScheduleIDs []string  // 1–100
	From, To    time.Time // [From, To), at most 366 days; may be zero with Cursor
	Limit       int       // events per page, 1–1000 (default 100)
	Cursor      string    // PagingMetadata.Cursor of the previous page
	Fieldset    string    // FieldsetNoPI (default) or FieldsetOwnPI
	TimeZone    string    // IANA zone of DateTimes and all-day days (default UTC)
	// PartialFailure lists a failing connection in Failures instead of
	// failing the call.
	PartialFailure bool
}

// EventTime is an event's start or end: DateTime for a timed event (in the
// query's TimeZone), Date (YYYY-MM-DD) for an all-day one.
type EventTime struct {
	DateTime time.Time `json:"dateTime,omitzero"`
	TimeZone string    `json:"timeZone,omitempty"`
	Date     string    `json:"date,omitempty"`
}

// Event is one event of a connected calendar; End is exclusive. ID is
// stable and unique across connections.
type Event struct {
	ID               string    `json:"id"`
	ConnectionID     string    `json:"connectionId"`
	ProviderID       string    `json:"providerId"`
	CalendarID       string    `json:"calendarId"`
	Start            EventTime `json:"start"`
	End              EventTime `json:"end"`
	AllDay           bool      `json:"allDay"`
	Status           string    `json:"status"`       // confirmed, tentative, cancelled
	Transparency     string    `json:"transparency"` // busy, free
	RecurringEventID string    `json:"recurringEventId,omitempty"`
	Updated          time.Time `json:"updated,omitzero"`
	Title            string    `json:"title,omitempty"`        // only with FieldsetOwnPI
	CalendarName     string    `json:"calendarName,omitempty"` // only with FieldsetOwnPI
}

// Failure is a connection that could not be read, listed when the query
// asked for PartialFailure. Code is one of the Code constants.
type Failure struct {
	ConnectionID string `json:"connectionId"`
	ProviderID   string `json:"providerId"`
	Code         string `json:"code"`
	Message      string `json:"message"`
}

// EventPage is one page of events sorted by start then id; every page but
// the last has exactly Limit events.
type EventPage struct {
	Events         []Event `json:"events"`
	PagingMetadata struct {
		Cursor  string `json:"cursor"`
		HasNext bool   `json:"hasNext"`
	} `json:"pagingMetadata"`
	Failures []Failure `json:"failures"`
}

// Events reads one page of events of every selected calendar of the
// schedules' CONNECTED connections.
func (c *Client) Events(ctx context.Context, q EventsQuery) (*EventPage, error) {
	v := window(q.ScheduleIDs, q.From, q.To, q.TimeZone, q.PartialFailure)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Fieldset != "" {
		v.Set("fieldset", q.Fieldset)
	}
	var out EventPage
	if err := c.do(ctx, http.MethodGet, "/v1/events", v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllEvents follows the cursor through every page. Every page reads the
// connections again, so a failing connection is reported once, from the
// page it first failed on.
func (c *Client) AllEvents(ctx context.Context, q EventsQuery) ([]Event, []Failure, error) {
	var all []Event
	var failures []Failure
	seen := map[string]bool{}
	for {
		page, err := c.Events(ctx, q)
		if err != nil {
			return all, failures, err
		}
		all = append(all, page.Events...)
		for _, f := range page.Failures {
			if !seen[f.ConnectionID] {
				seen[f.ConnectionID] = true
				failures = append(failures, f)
			}
		}
		if !page.PagingMetadata.HasNext {
			return all, failures, nil
		}
		q.Cursor = page.PagingMetadata.Cursor
	}
}

// FreeBusyQuery selects the calendars of GET /v1/freebusy, like
// EventsQuery without paging.
type FreeBusyQuery struct {
	ScheduleIDs    []string
	From, To       time.Time
	TimeZone       string
	PartialFailure bool
}

// Interval is a busy time, End exclusive.
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// FreeBusy is the merged busy intervals of the schedules' calendars,
// clipped to the window, in start order.
type FreeBusy struct {
	Busy     []Interval `json:"busy"`
	Failures []Failure  `json:"failures"`
}

// FreeBusy reads when the schedules are busy: confirmed and tentative
// events not marked free, overlapping and touching ones merged. It carries
// no title, id or calendar name.
func (c *Client) FreeBusy(ctx context.Context, q FreeBusyQuery) (*FreeBusy, error) {
	var out FreeBusy
	if err := c.do(ctx, http.MethodGet, "/v1/freebusy", window(q.ScheduleIDs, q.From, q.To, q.TimeZone, q.PartialFailure), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// window is the query both routes share.
func window(schedules []string, from, to time.Time, zone string, partial bool) url.Values {
	v := url.Values{}
	for _, s := range schedules {
		v.Add("scheduleId", s)
	}
	if !from.IsZero() {
		v.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		v.Set("to", to.UTC().Format(time.RFC3339))
	}
	if zone != "" {
		v.Set("timeZone", zone)
	}
	if partial {
		v.Set("partialFailure", "true")
	}
	return v
}
