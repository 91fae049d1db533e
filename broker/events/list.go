package events

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// Query is one listing of GET /v1/events or /v1/freebusy.
type Query struct {
	ScheduleIDs    []string
	From, To       time.Time
	Limit          int
	OwnPI          bool
	PartialFailure bool
	Location       *time.Location
}

// Event is a normalized event: providers.Event with where it comes from
// and its broker id, stable and unique across connections.
type Event struct {
	providers.Event
	BrokerID     string
	ConnectionID string
	ProviderID   string
	CalendarName string
	// sortStart is the instant the event starts (an all-day event: its
	// first day's midnight in the query's zone).
	sortStart, sortEnd time.Time
}

// Failure is a connection that could not be read.
type Failure struct {
	ConnectionID, ProviderID string
	Code                     model.Code
	Message                  string
}

// Page is one page of events.
type Page struct {
	Events   []Event
	Cursor   string // empty on the last page
	Failures []Failure
}

// cursor is what a cursor carries: where the previous page ended and a
// digest of the query and app it belongs to.
type cursor struct {
	Q     string    `json:"q"`
	Start time.Time `json:"s"`
	ID    string    `json:"i"`
	// The window of the first page: a cursor does not repeat from/to.
	From time.Time `json:"f"`
	To   time.Time `json:"t"`
}

func (q Query) digest(appID string) string {
	h := sha256.New()
	ids := slices.Clone(q.ScheduleIDs)
	slices.Sort(ids)
	tz := ""
	if q.Location != nil {
		tz = q.Location.String()
	}
	for _, s := range []string{appID, strings.Join(ids, "\x00"), q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano), tz} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if q.OwnPI {
		h.Write([]byte("own"))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *Service) sign(c cursor) string {
	b, _ := json.Marshal(c)
	m := hmac.New(sha256.New, s.o.CursorKey)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(append(m.Sum(nil), b...))
}

// ErrBadCursor is a cursor that was edited or belongs to another query.
var ErrBadCursor = model.Invalid("cursor", "the cursor is invalid or belongs to another query")

// OpenCursor checks a cursor and returns the window it was made for; the
// caller then rebuilds q with that window and calls List with the cursor.
func (s *Service) OpenCursor(raw string) (from, to time.Time, err error) {
	c, err := s.open(raw)
	return c.From, c.To, err
}

func (s *Service) open(raw string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) < sha256.Size {
		return c, ErrBadCursor
	}
	m := hmac.New(sha256.New, s.o.CursorKey)
	m.Write(b[sha256.Size:])
	if !hmac.Equal(m.Sum(nil), b[:sha256.Size]) || json.Unmarshal(b[sha256.Size:], &c) != nil {
		return c, ErrBadCursor
	}
	return c, nil
}

func less(a, b *Event) int {
	if c := a.sortStart.Compare(b.sortStart); c != 0 {
		return c
	}
	return strings.Compare(a.BrokerID, b.BrokerID)
}

// List returns one page: the first q.Limit events after the cursor, in
// (start, id) order. Each page reads the window again and keeps only the
// limit+1 smallest events past the cursor of each connection, so memory is
// bounded by the page (per connection), and an event added outside the
// window changes nothing. A connection that fails adds no event at all.
func (s *Service) List(ctx context.Context, appID string, q Query, rawCursor string) (Page, error) {
	dig := q.digest(appID)
	var after *cursor
	if rawCursor != "" {
		c, err := s.open(rawCursor)
		if err != nil || c.Q != dig {
			return Page{}, ErrBadCursor
		}
		after = &c
	}
	pg := newPager(q.Limit, after)
	failures, names, err := s.fanOut(ctx, appID, q, func() (func(Event), func()) {
		own := newPager(q.Limit, after)
		return own.add, func() {
			for _, e := range own.result() {
				pg.add(e)
			}
		}
	})
	if err != nil {
		return Page{}, err
	}
	keep := pg.result()
	if q.OwnPI {
		for i := range keep {
			keep[i].CalendarName = names[calKey{keep[i].ConnectionID, keep[i].CalendarID}]
		}
	}
	p := Page{Events: keep, Failures: failures}
	if len(keep) > q.Limit {
		p.Events = keep[:q.Limit]
		last := p.Events[q.Limit-1]
		p.Cursor = s.sign(cursor{Q: dig, Start: last.sortStart, ID: last.BrokerID, From: q.From, To: q.To})
	}
	return p, nil
}

// pager keeps the limit+1 smallest events past the cursor, whatever order
// they arrive in: memory stays a few pages however much a provider returns.
type pager struct {
	mu    sync.Mutex
	limit int
	after *cursor
	keep  []Event
}

func newPager(limit int, after *cursor) *pager {
	return &pager{limit: limit, after: after, keep: make([]Event, 0, 4*(limit+1))}
}

func (p *pager) add(e Event) {
	if p.after != nil {
		if c := e.sortStart.Compare(p.after.Start); c < 0 || c == 0 && e.BrokerID <= p.after.ID {
			return
		}
	}
	p.mu.Lock()
	p.keep = append(p.keep, e)
	if len(p.keep) >= 4*(p.limit+1) {
		p.trim()
	}
	p.mu.Unlock()
}

func (p *pager) trim() {
	slices.SortFunc(p.keep, func(a, b Event) int { return less(&a, &b) })
	if len(p.keep) > p.limit+1 {
		p.keep = p.keep[:p.limit+1]
	}
}

// result is the page plus one event that says whether another follows.
func (p *pager) result() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trim()
	return p.keep
}

// coalesceAt is the size from which FreeBusy merges intervals as they come.
const coalesceAt = 1024

// Interval is one busy interval.
type Interval struct{ Start, End time.Time }

// FreeBusy returns the merged busy intervals in the window: confirmed and
// tentative busy events, clipped to it; overlapping and touching ones
// coalesced.
func (s *Service) FreeBusy(ctx context.Context, appID string, q Query) ([]Interval, []Failure, error) {
	var mu sync.Mutex
	var all []Interval
	failures, _, err := s.fanOut(ctx, appID, q, func() (func(Event), func()) {
		var own busy
		return func(e Event) {
				if e.Status == providers.StatusCancelled || e.Transparency == providers.Free {
					return
				}
				if st, en := maxTime(e.sortStart, q.From), minTime(e.sortEnd, q.To); st.Before(en) {
					own.add(Interval{st, en})
				}
			}, func() {
				mu.Lock()
				all = append(all, own.iv...)
				mu.Unlock()
			}
	})
	if err != nil {
		return nil, nil, err
	}
	return Coalesce(all), failures, nil
}

// busy collects one connection's busy intervals.
type busy struct {
	mu sync.Mutex
	iv []Interval
}

func (b *busy) add(x Interval) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.iv = append(b.iv, x)
	if len(b.iv) == cap(b.iv) && len(b.iv) >= coalesceAt {
		// Overlapping busy time is held once: what stays is at most the
		// distinct intervals, however many events a provider sends.
		b.iv = Coalesce(b.iv)
	}
}

// Coalesce sorts intervals and merges overlapping and touching ones.
func Coalesce(iv []Interval) []Interval {
	slices.SortFunc(iv, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	out := iv[:0]
	for _, x := range iv {
		if n := len(out); n > 0 && !x.Start.After(out[n-1].End) {
			if x.End.After(out[n-1].End) {
				out[n-1].End = x.End
			}
			continue
		}
		out = append(out, x)
	}
	return slices.Clip(out)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SortStart and SortEnd are the event's instants in the query's zone.
func (e Event) SortStart() time.Time { return e.sortStart }

// SortEnd is the event's end instant (exclusive).
func (e Event) SortEnd() time.Time { return e.sortEnd }
