package providers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
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

// MaxCalendarAnswer bounds one provider answer a JSON adapter reads: a full
// page (2,500 Google events, 1,000 Graph events of the few fields asked for,
// 250 Cal.com bookings with their attendees) is a few MiB at most.
const MaxCalendarAnswer = 32 << 20

// Get sends a GET of target (a path under BaseURL when it starts with "/",
// else an absolute URL the caller has checked) with header, and hands a 200
// answer's body, cut at MaxCalendarAnswer, to read. Any other status is an
// UpstreamError; that body is drained and never kept, as it may echo a
// secret.
func (c CalendarCall) Get(ctx context.Context, target string, header http.Header, read func(io.Reader) error) error {
	if strings.HasPrefix(target, "/") {
		target = c.BaseURL + target
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &UpstreamError{Reason: "unusable URL"}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &UpstreamError{Status: resp.StatusCode}
	}
	return read(io.LimitReader(resp.Body, MaxCalendarAnswer))
}

// GetJSON is Get of a path under BaseURL decoding the answer into v.
func (c CalendarCall) GetJSON(ctx context.Context, path string, v any) error {
	return c.Get(ctx, path, nil, func(r io.Reader) error {
		if err := json.NewDecoder(r).Decode(v); err != nil {
			return &UpstreamError{Reason: "malformed JSON"}
		}
		return nil
	})
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
