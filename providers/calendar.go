package providers

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Calendar is one calendar of an account at its provider.
type Calendar struct {
	ID       string
	Name     string // personal: only shown with fieldset OWN_PI
	Primary  bool
	ReadOnly bool
	TimeZone string // IANA, may be empty
}

// Event is one event or occurrence as an adapter reads it. It has no
// attendee, organizer, description, location or conference link: an adapter
// never copies them, so they cannot leak (docs/api.md, events).
type Event struct {
	ID         string // the provider's id, unique within the calendar
	CalendarID string
	// Start and End are instants for a timed event (End exclusive). For an
	// all-day event AllDay is set and StartDate/EndDate are dates
	// (YYYY-MM-DD, EndDate exclusive); Start and End are then unset.
	Start, End         time.Time
	AllDay             bool
	StartDate, EndDate string
	TimeZone           string // the event's own zone (IANA), may be empty
	Status             string // confirmed | tentative | cancelled
	Transparency       string // busy | free
	RecurringEventID   string
	Updated            time.Time
	Title              string // personal: only shown with fieldset OWN_PI
}

// Event statuses and transparencies.
const (
	StatusConfirmed = "confirmed"
	StatusTentative = "tentative"
	StatusCancelled = "cancelled"
	Busy            = "busy"
	Free            = "free"
)

// CalendarCall is how an adapter reaches its provider for one connection:
// Do sends a request with the connection's credential injected, through the
// broker's outbound transport (no redirects followed, bounded), refreshing
// the token once and retrying once on a 401. BaseURL is the provider's
// apiBaseUrl without a trailing slash.
type CalendarCall struct {
	BaseURL string
	Do      func(req *http.Request) (*http.Response, error)
}

// CalendarReader is a room that can read calendars and events: the calendar
// adapter (broker/events). A provider uses the reader of the room named by
// its `events:` catalog field; a provider without one has listEvents false.
type CalendarReader interface {
	ListCalendars(ctx context.Context, call CalendarCall) ([]Calendar, error)
	// ListEvents calls fn for every event of calendarID that overlaps
	// [from, to), cancelled occurrences included, page by page, so a large
	// calendar is never held in memory at once. An error from fn stops it.
	ListEvents(ctx context.Context, call CalendarCall, calendarID string, from, to time.Time, fn func(Event) error) error
}

// UpstreamError is a provider answer an adapter could not use: its HTTP
// status (0 for a malformed body). It never holds the body or the URL, which
// could carry a secret.
type UpstreamError struct {
	Status int
	Reason string
}

func (e *UpstreamError) Error() string {
	if e.Status == 0 {
		return "provider answer unusable: " + e.Reason
	}
	return "provider answered " + http.StatusText(e.Status)
}

// ErrNoCalendarReader is returned for a provider without a calendar adapter.
var ErrNoCalendarReader = errors.New("provider has no calendar adapter")

// CalendarReaderFor returns the calendar adapter of p from rooms: the room
// named by p.Events ("google" for the demo provider too).
func CalendarReaderFor(rooms Rooms, p *Provider) (CalendarReader, bool) {
	if p == nil || p.Events == "" || p.Events == "none" {
		return nil, false
	}
	cr, ok := rooms[p.Events].(CalendarReader)
	return cr, ok
}
