package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/providers"
)

// The broker's bounds of the fan-out (broker.New passes them; they are not
// broker.yaml keys).
const (
	// DefaultCallTimeout is the deadline of one provider call (one HTTP
	// request and its body), refresh and retry included in its own.
	DefaultCallTimeout = 20 * time.Second
	// DefaultListTimeout bounds a whole listing: every provider page of
	// every calendar of every connection.
	DefaultListTimeout = 60 * time.Second
	// DefaultPerAccount bounds the calls to one provider account at once.
	DefaultPerAccount = 4
	// maxConnections bounds the connections one listing reads; more is
	// invalid_argument rather than a silently partial answer.
	maxConnections = 1000
)

// Options configure a Service. Store, Tokens, Providers, HTTPClient and
// CursorKey are required and the bounds positive; New refuses a Service
// without them rather than fill them in.
type Options struct {
	Store       store.Store
	Tokens      *tokens.Manager
	Providers   *providers.Registry
	Rooms       providers.Rooms
	HTTPClient  *http.Client  // the outbound client: no redirects, bounded
	CursorKey   []byte        // HMAC key binding cursors to app and query
	CallTimeout time.Duration // per provider call (the broker: DefaultCallTimeout)
	ListTimeout time.Duration // per listing (the broker: DefaultListTimeout)
	PerAccount  int           // calls to one account at once (the broker: DefaultPerAccount)
	Now         func() time.Time
	// Telemetry: a broker.events.call span and the fan-out metrics per
	// connection read; nil records nothing.
	Telemetry *telemetry.Telemetry
}

// Service lists calendars, events and free/busy.
type Service struct {
	o Options
	// primary remembers each connection's primary calendar, so a listing
	// without a stored selection needs no calendar-list round trip.
	primary *lru.Cache[string, string]
}

// primaryCacheSize bounds the remembered primary calendars (connections).
const primaryCacheSize = 10000

// New returns a Service; a missing dependency or a bound that is not
// positive is an error.
func New(o Options) (*Service, error) {
	switch {
	case o.Store == nil || o.Tokens == nil || o.Providers == nil || o.HTTPClient == nil || len(o.CursorKey) == 0:
		return nil, errors.New("events: Store, Tokens, Providers, HTTPClient and CursorKey are required")
	case o.CallTimeout <= 0 || o.ListTimeout <= 0 || o.PerAccount < 1:
		return nil, fmt.Errorf("events: CallTimeout %s, ListTimeout %s and PerAccount %d must be positive", o.CallTimeout, o.ListTimeout, o.PerAccount)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	primary, err := lru.New[string, string](primaryCacheSize)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return &Service{o: o, primary: primary}, nil
}

// Options are the options the Service runs with.
func (s *Service) Options() Options { return s.o }

// Reader returns the calendar adapter of a provider, if it has one.
func (s *Service) Reader(p *providers.Provider) (providers.CalendarReader, bool) {
	return providers.CalendarReaderFor(s.o.Rooms, p)
}

// call builds the adapter's view of one connection: every request carries
// the current credential and a 401 gets one forced refresh and one retry,
// all within one per-call deadline that ends when the body is closed.
func (s *Service) call(appID, connID string, p *providers.Provider) providers.CalendarCall {
	var refresh sync.Mutex // one refresh per connection even when calls 401 together
	return providers.CalendarCall{
		BaseURL: strings.TrimRight(p.APIBaseURL, "/"),
		Do: func(req *http.Request) (*http.Response, error) {
			ctx, cancel := context.WithTimeout(req.Context(), s.o.CallTimeout)
			resp, err := s.do(req.WithContext(ctx), appID, connID, &refresh)
			if err != nil {
				cancel()
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		},
	}
}

func (s *Service) do(req *http.Request, appID, connID string, refresh *sync.Mutex) (*http.Response, error) {
	cred, err := s.o.Tokens.Get(req.Context(), appID, connID)
	if err != nil {
		return nil, err
	}
	resp, err := s.send(req, cred)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	resp.Body.Close()
	// Calls that were rejected together wait for the first one's refresh
	// and use its token instead of each forcing one (or, within the token
	// manager's cooldown, being handed the rejected token back).
	refresh.Lock()
	fresh, err := s.o.Tokens.Get(req.Context(), appID, connID)
	if err == nil && fresh.Token.AccessToken == cred.Token.AccessToken {
		fresh, err = s.o.Tokens.ForceRefresh(req.Context(), appID, connID, cred.Token.AccessToken)
	}
	refresh.Unlock()
	if err != nil {
		return nil, err
	}
	if req.GetBody != nil { // a PROPFIND or REPORT sends its body again
		if req.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return s.send(req, fresh)
}

// cancelBody ends a call's deadline when the adapter is done with the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (s *Service) send(req *http.Request, cred *tokens.Credential) (*http.Response, error) {
	r := req.Clone(req.Context())
	cred.Provider.Inject(r, cred.Token)
	resp, err := s.o.HTTPClient.Do(r)
	if err != nil {
		// The URL may carry an injected credential: never repeat it.
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return nil, model.ErrUpstreamTimeout
		}
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, model.ErrUpstreamUnavailable
	}
	return resp, nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// connection returns the app's connection and its provider and adapter.
func (s *Service) connection(ctx context.Context, appID, id string) (model.Connection, *providers.Provider, providers.CalendarReader, error) {
	c, err := s.o.Store.GetConnection(ctx, appID, id)
	if err != nil {
		return c, nil, nil, err
	}
	p, ok := s.o.Providers.Get(c.ProviderID)
	if !ok {
		return c, nil, nil, model.ErrNotFound
	}
	cr, ok := s.Reader(p)
	if !ok {
		return c, p, nil, model.Errorf(model.CodeInvalidArgument, "provider %s has no calendars to read", p.ID)
	}
	switch c.Status {
	case model.StatusNeedsReauth:
		return c, p, cr, model.ErrNeedsReauth
	case model.StatusDisconnected:
		return c, p, cr, tokens.ErrDisconnected
	}
	return c, p, cr, nil
}

// CalendarView is a calendar with whether it is selected.
type CalendarView struct {
	providers.Calendar
	Selected bool
}

// Calendars lists a connection's calendars at its provider.
func (s *Service) Calendars(ctx context.Context, appID, connID string) ([]CalendarView, error) {
	c, p, cr, err := s.connection(ctx, appID, connID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.ListTimeout)
	defer cancel()
	cals, err := cr.ListCalendars(ctx, s.call(appID, c.ID, p))
	if err != nil {
		return nil, upstream(err)
	}
	sel := selectedSet(c, cals)
	out := make([]CalendarView, len(cals))
	for i, cal := range cals {
		out[i] = CalendarView{Calendar: cal, Selected: sel[cal.ID]}
	}
	return out, nil
}

// SelectCalendars stores which calendars count; every id must be one the
// account has.
func (s *Service) SelectCalendars(ctx context.Context, appID, connID string, ids []string) ([]CalendarView, error) {
	views, err := s.Calendars(ctx, appID, connID)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(views))
	for _, v := range views {
		known[v.ID] = true
	}
	seen := map[string]bool{}
	var keep []string
	for _, id := range ids {
		if !known[id] {
			return nil, model.Invalid("selected", "the account has no calendar %q", id)
		}
		if !seen[id] {
			seen[id] = true
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return nil, model.Invalid("selected", "select at least one calendar")
	}
	if _, err := s.o.Store.UpdateConnection(ctx, connID, func(c model.Connection) (model.Connection, error) {
		c.Calendars = keep
		return c, nil
	}); err != nil {
		return nil, err
	}
	for i := range views {
		views[i].Selected = seen[views[i].ID]
	}
	return views, nil
}

// selectedSet is the stored selection, or the primary calendar.
func selectedSet(c model.Connection, cals []providers.Calendar) map[string]bool {
	sel := map[string]bool{}
	for _, id := range c.Calendars {
		sel[id] = true
	}
	if len(sel) == 0 {
		for _, cal := range cals {
			if cal.Primary {
				sel[cal.ID] = true
			}
		}
	}
	return sel
}

// upstream maps an adapter error to the broker's codes, never its text.
func upstream(err error) error {
	var ue *providers.UpstreamError
	var me *model.Error
	switch {
	case errors.As(err, &me):
		return err
	case errors.As(err, &ue):
		switch {
		case ue.Status == http.StatusUnauthorized:
			return model.ErrNeedsReauth
		case ue.Status == http.StatusForbidden:
			return model.Errorf(model.CodePermissionDenied, "the provider refused access (a missing scope?)")
		case ue.Status == http.StatusTooManyRequests:
			return model.ErrRateLimited
		case ue.Status == http.StatusNotFound:
			return model.Errorf(model.CodeNotFound, "the provider does not know that calendar")
		}
		return model.ErrUpstreamUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return model.ErrUpstreamTimeout
	}
	for _, s := range []error{model.ErrNeedsReauth, model.ErrConflict, model.ErrNotFound, model.ErrUpstreamTimeout, model.ErrUpstreamUnavailable, model.ErrRateLimited, model.ErrUnavailable} {
		if errors.Is(err, s) {
			return err
		}
	}
	return model.ErrUpstreamUnavailable
}
