package events

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// window is how far the provider reads beyond [from, to): a provider judges
// an all-day event's overlap in its calendar's zone, the broker in the
// query's, and zones lie within 14 hours of UTC (normalize cuts the excess).
const window = 14 * time.Hour

// calKey names one calendar of one connection.
type calKey struct{ conn, cal string }

// connections returns every connection of the schedules, page by page.
func (s *Service) connections(ctx context.Context, appID string, q Query) ([]model.Connection, error) {
	var all []model.Connection
	f := store.ConnectionFilter{AppID: appID, ScheduleIDs: q.ScheduleIDs, Limit: 500}
	for {
		page, err := s.o.Store.ListConnections(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(all) > maxConnections {
			return nil, model.Invalid("scheduleId", "the schedules have more than %d connections", maxConnections)
		}
		if len(page) < f.Limit {
			return all, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// fanOut reads every selected calendar of every CONNECTED connection of the
// schedules in parallel (at most PerAccount calls per connection, each with
// its own deadline, the whole within ListTimeout). For each connection it
// opens a collector, hands it each event overlapping the window and
// commits it once the connection was read in full: a connection that fails
// contributes nothing but its failure. A NEEDS_REAUTH connection is a failure
// without a call; a DISCONNECTED one, or one whose provider has no adapter,
// is skipped. Without PartialFailure the first failure is the error. With
// q.OwnPI it also returns the calendars' names.
func (s *Service) fanOut(ctx context.Context, appID string, q Query, open func() (add func(Event), commit func())) ([]Failure, map[calKey]string, error) {
	conns, err := s.connections(ctx, appID, q)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.ListTimeout)
	defer cancel()
	var mu sync.Mutex
	var failures []Failure
	var first error
	names := map[calKey]string{}
	fail := func(c model.Connection, err error) {
		err = upstream(err)
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
		failures = append(failures, Failure{ConnectionID: c.ID, ProviderID: c.ProviderID, Code: model.CodeOf(err), Message: message(err)})
		if !q.PartialFailure {
			cancel()
		}
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		if c.Status == model.StatusDisconnected {
			continue
		}
		p, ok := s.o.Providers.Get(c.ProviderID)
		if !ok {
			continue
		}
		cr, ok := s.Reader(p)
		if !ok {
			continue // no adapter (Zoom, an API key): skipped, not a failure
		}
		if c.Status != model.StatusConnected {
			fail(c, model.ErrNeedsReauth)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One child span and one fan-out measurement per connection
			// (docs/operations.md); the error on it is the broker's own
			// message, never a provider body.
			cctx, done := s.o.Telemetry.StartFanoutCall(ctx, c.ProviderID, c.ID)
			add, commit := open()
			cals, err := s.readConnection(cctx, appID, c, p, cr, q, add)
			if err != nil {
				err = upstream(err)
				done(errors.New(message(err)))
				fail(c, err)
				return
			}
			done(nil)
			commit()
			mu.Lock()
			for _, cal := range cals {
				names[calKey{c.ID, cal.ID}] = cal.Name
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil && !q.PartialFailure {
		return nil, nil, first
	}
	slices.SortFunc(failures, func(a, b Failure) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
	return failures, names, nil
}

// message is the caller-facing message of err, the envelope's own.
func message(err error) string {
	_, b := model.Envelope(err)
	return b.Error.Message
}

// readConnection reads the selected calendars of one connection. A stored
// selection (or the primary calendar remembered from an earlier listing) is
// read at once, so a listing costs one provider round trip; only without
// either is the calendar list read first. With q.OwnPI the list is read
// beside the events, for the names, and returned.
func (s *Service) readConnection(ctx context.Context, appID string, c model.Connection, p *providers.Provider, cr providers.CalendarReader, q Query, emit func(Event)) ([]providers.Calendar, error) {
	call := s.call(appID, c.ID, p)
	sem := make(chan struct{}, s.o.PerAccount)
	ids := c.Calendars
	if len(ids) == 0 {
		if id, ok := s.primary.Get(c.ID); ok {
			ids = []string{id}
		}
	}
	var cals []providers.Calendar
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	if len(ids) == 0 {
		var err error
		if cals, err = cr.ListCalendars(ctx, call); err != nil {
			return nil, err
		}
		for _, cal := range cals {
			if cal.Primary {
				ids = append(ids, cal.ID)
				s.primary.Add(c.ID, cal.ID)
			}
		}
	} else if q.OwnPI {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			list, err := cr.ListCalendars(ctx, call)
			if err != nil {
				failed(err)
			}
			mu.Lock()
			cals = list
			mu.Unlock()
		}()
	}
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := cr.ListEvents(ctx, call, id, q.From.Add(-window), q.To.Add(window), func(pe providers.Event) error {
				if e, ok := normalize(c, id, pe, q); ok {
					emit(e)
				}
				return nil
			})
			var ue *providers.UpstreamError
			if errors.As(err, &ue) && ue.Status == http.StatusNotFound {
				// The calendar is gone at the provider: as if unselected.
				s.primary.Remove(c.ID)
				return
			}
			if err != nil {
				failed(err)
			}
		}()
	}
	wg.Wait()
	return cals, first
}

// normalize places the event in the query's zone and drops it when it does
// not overlap the window; NO_PI strips the title.
func normalize(c model.Connection, calID string, pe providers.Event, q Query) (Event, bool) {
	e := Event{Event: pe, ConnectionID: c.ID, ProviderID: c.ProviderID}
	e.CalendarID = calID
	if pe.AllDay {
		st, err1 := time.ParseInLocation(time.DateOnly, pe.StartDate, q.Location)
		en, err2 := time.ParseInLocation(time.DateOnly, pe.EndDate, q.Location)
		if err1 != nil || err2 != nil {
			return e, false
		}
		if !en.After(st) {
			en = st.AddDate(0, 0, 1)
		}
		e.sortStart, e.sortEnd = st, en
	} else {
		e.sortStart, e.sortEnd = pe.Start, pe.End
		if !e.sortEnd.After(e.sortStart) {
			e.sortEnd = e.sortStart // zero length: counts at its instant
		}
	}
	if !e.sortStart.Before(q.To) || (!e.sortEnd.After(q.From) && !(e.sortEnd.Equal(e.sortStart) && !e.sortStart.Before(q.From))) {
		return e, false
	}
	h := sha256.Sum256([]byte(c.ID + "\x00" + calID + "\x00" + pe.ID))
	e.BrokerID = "ev_" + base64.RawURLEncoding.EncodeToString(h[:18])
	if !q.OwnPI {
		e.Title = ""
	}
	return e, true
}
