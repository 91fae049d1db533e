package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/oauthbroker/broker/broker/cache"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/providers"
)

// DefaultRetryDelays are the pauses between attempts at a token endpoint that
// failed transiently: three attempts in all.
var DefaultRetryDelays = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond}

// Options configures a Manager. Store, Keys, Providers and HTTPClient are
// required; the sizes and durations are taken as given (broker.yaml's
// defaults live in package config), and New refuses one that cannot work.
type Options struct {
	Store     store.Store
	Keys      *secrets.KeyRing
	Providers *providers.Registry
	// HTTPClient talks to token and revoke endpoints; it must not follow
	// redirects (providers.NewHTTPClient).
	HTTPClient *http.Client
	// CacheSize bounds the token cache (entries, cache.tokens); at least 1.
	CacheSize int
	// ExpiryMargin: a token expiring within it is refreshed before use
	// (cache.expiryMargin); 0 = only once it has expired.
	ExpiryMargin time.Duration
	// LeaseTTL is how long one replica may hold a connection's refresh
	// lease; a replica killed mid-refresh blocks others at most this long
	// (refresh.leaseTtl); positive.
	LeaseTTL time.Duration
	// RefreshTimeout bounds one refresh (waiting for the lease included). It
	// runs detached from the caller. Default 2*LeaseTTL.
	RefreshTimeout time.Duration
	// RetryDelays are the pauses between attempts after a transient token
	// endpoint failure; nil = DefaultRetryDelays, empty = no retry.
	RetryDelays []time.Duration
	Now         func() time.Time
	// Logger receives the manager's warnings; nil = none.
	Logger *slog.Logger
	// Holder names this process in refresh leases; default hostname-pid-random.
	Holder string
	// Telemetry records cache hits and misses, refreshes and their spans;
	// nil records nothing.
	Telemetry *telemetry.Telemetry
	// RejectedCooldown: after ForceRefresh refreshed a connection, another
	// ForceRefresh of it within this time returns the current credential
	// without calling the token endpoint (refresh.rejectedCooldown); 0 = no
	// cooldown.
	RejectedCooldown time.Duration
}

// Credential is a connection's usable credential. The Manager shares one
// Credential between callers and its cache: treat it as read-only.
type Credential struct {
	ConnectionID string
	AppID        string
	Provider     *providers.Provider
	Status       model.ConnectionStatus
	Token        model.Token
}

// Manager hands out valid credentials for connections: the cache, the
// leased refresh and the keep-alive; see the package doc. Storing and ending
// connections is its Lifecycle's job, choosing OAuth clients its Clients';
// their methods are the Manager's too.
type Manager struct {
	opts Options // as given, for Options
	*Lifecycle
	*Clients

	st      store.Store
	sealer  sealer
	reg     *providers.Registry
	hc      *http.Client
	margin  time.Duration
	ttl     time.Duration
	timeout time.Duration
	delays  []time.Duration
	now     func() time.Time
	log     *slog.Logger
	holder  string
	tel     *telemetry.Telemetry
	metrics *telemetry.Metrics // nil: nothing recorded

	// cache holds CONNECTED connections by id; its epoch keeps a value
	// read from the store before a purge from being cached after it.
	cache   *cache.Cache[string, *entry]
	flights singleflight.Group
	// forced remembers when each connection was last force-refreshed, for
	// the cooldown (bounded like the cache; in this process only).
	cooldown time.Duration
	forced   *lru.Cache[string, time.Time]
	// forcing holds, per connection, a channel closed when the forced
	// refresh running for it ends: a caller rejected during the cooldown
	// waits for it rather than being handed the rejected token back.
	forcingMu sync.Mutex
	forcing   map[string]chan struct{}
}

// Errors of this package beyond the model sentinels.
var (
	// ErrDisconnected: the connection was disconnected and holds no
	// credential. It is a conflict (409): the id is right, the state is not.
	ErrDisconnected = fmt.Errorf("tokens: connection is disconnected: %w", model.ErrConflict)
)

var errNotFound = fmt.Errorf("tokens: connection: %w", model.ErrNotFound)

// New builds a Manager. A missing dependency or a size or duration that
// cannot work is an error; nothing is replaced by a default.
func New(o Options) (*Manager, error) {
	switch {
	case o.Store == nil || o.Keys == nil || o.Providers == nil || o.HTTPClient == nil:
		return nil, errors.New("tokens: Store, Keys, Providers and HTTPClient are required")
	case o.CacheSize < 1:
		return nil, fmt.Errorf("tokens: CacheSize %d: must be at least 1", o.CacheSize)
	case o.ExpiryMargin < 0:
		return nil, fmt.Errorf("tokens: ExpiryMargin %s: must not be negative", o.ExpiryMargin)
	case o.LeaseTTL <= 0:
		return nil, fmt.Errorf("tokens: LeaseTTL %s: must be positive", o.LeaseTTL)
	case o.RefreshTimeout < 0 || o.RejectedCooldown < 0:
		return nil, errors.New("tokens: RefreshTimeout and RejectedCooldown must not be negative")
	}
	m := &Manager{
		opts: o, st: o.Store, sealer: sealer{o.Keys}, reg: o.Providers, hc: o.HTTPClient,
		margin: o.ExpiryMargin, ttl: o.LeaseTTL, timeout: o.RefreshTimeout,
		delays: o.RetryDelays, now: o.Now, log: o.Logger, holder: o.Holder,
		tel: o.Telemetry, metrics: o.Telemetry.Metrics(),
	}
	if m.timeout == 0 {
		m.timeout = 2 * m.ttl // documented on Options: derived, not a default of its own
	}
	if m.delays == nil {
		m.delays = DefaultRetryDelays
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.holder == "" {
		host, _ := os.Hostname()
		m.holder = host + "-" + strconv.Itoa(os.Getpid()) + "-" + model.RandomToken(5)
	}
	c, err := cache.New[string, *entry](o.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	m.cache = c
	m.Clients = &Clients{st: m.st, keys: o.Keys}
	m.Lifecycle = &Lifecycle{st: m.st, sealer: m.sealer, clients: m.Clients, reg: m.reg, hc: m.hc,
		now: m.now, log: m.log, purge: m.Purge}
	if m.cooldown = o.RejectedCooldown; m.cooldown > 0 {
		if m.forced, err = lru.New[string, time.Time](o.CacheSize); err != nil {
			return nil, fmt.Errorf("tokens: cooldown cache: %w", err)
		}
	}
	return m, nil
}

// Options are the options the Manager runs with, read back from what it
// uses, so a value replaced on the way would show.
func (m *Manager) Options() Options {
	o := m.opts
	o.HTTPClient, o.ExpiryMargin, o.LeaseTTL, o.RefreshTimeout = m.hc, m.margin, m.ttl, m.timeout
	o.RetryDelays, o.Holder, o.RejectedCooldown = m.delays, m.holder, m.cooldown
	return o
}

// Holder is the name this Manager uses in refresh leases.
func (m *Manager) Holder() string { return m.holder }

// Get returns a usable credential for connection connID of app appID. A
// cached token that is not within the expiry margin is returned without any
// I/O; otherwise the connection is read and, when due, refreshed once for
// all callers (see the package doc). A missing or foreign connection is
// model.ErrNotFound, NEEDS_REAUTH is model.ErrNeedsReauth, DISCONNECTED is
// ErrDisconnected.
func (m *Manager) Get(ctx context.Context, appID, connID string) (*Credential, error) {
	e, ok := m.cache.Get(connID)
	if ok {
		if e.cred.AppID != appID {
			return nil, errNotFound
		}
		if e.fresh(m.now()) {
			m.metrics.TokenCache(ctx, true)
			return &e.cred, nil
		}
		m.metrics.TokenCache(ctx, false)
	} else {
		m.metrics.TokenCache(ctx, false)
		var err error
		if e, err = m.load(ctx, appID, connID); err != nil {
			return nil, err
		}
		if e.fresh(m.now()) {
			return &e.cred, nil
		}
	}
	return m.refreshDue(ctx, e)
}

// ForceRefresh refreshes the connection's token because the provider
// rejected staleAccessToken (the proxy's one retry after a 401). When the
// current token already differs from it, someone refreshed meanwhile and
// that token is returned without a token endpoint call.
func (m *Manager) ForceRefresh(ctx context.Context, appID, connID, staleAccessToken string) (*Credential, error) {
	e, ok := m.cache.Get(connID)
	if ok && e.cred.AppID != appID {
		return nil, errNotFound
	}
	if !ok {
		var err error
		if e, err = m.load(ctx, appID, connID); err != nil {
			return nil, err
		}
	}
	if e.cred.Token.AccessToken != staleAccessToken || e.cred.Provider.Kind != providers.KindOAuth2 ||
		e.cred.Token.RefreshToken == "" {
		return &e.cred, nil // refreshed meanwhile, or nothing to refresh with
	}
	// At most one forced refresh per connection per cooldown
	// (docs/security.md §20): a path that always answers 401 must not turn
	// a caller's request rate into token-endpoint traffic of a shared
	// client, nor burn rotating refresh tokens.
	if m.forced != nil {
		now := m.now()
		if last, ok := m.forced.Get(connID); ok && now.Sub(last) < m.cooldown {
			m.forcingMu.Lock()
			running := m.forcing[connID]
			m.forcingMu.Unlock()
			if running == nil {
				return &e.cred, nil
			}
			select {
			case <-running:
			case <-ctx.Done():
				return nil, fmt.Errorf("tokens: %w", ctx.Err())
			}
			return m.Get(ctx, appID, connID)
		}
		m.forced.Add(connID, now)
		done := make(chan struct{})
		m.forcingMu.Lock()
		if m.forcing == nil {
			m.forcing = map[string]chan struct{}{}
		}
		m.forcing[connID] = done
		m.forcingMu.Unlock()
		defer func() {
			m.forcingMu.Lock()
			if m.forcing[connID] == done {
				delete(m.forcing, connID)
			}
			m.forcingMu.Unlock()
			close(done)
		}()
	}
	stale := func(_ model.Connection, t model.Token) bool { return t.AccessToken == staleAccessToken }
	// A flight started by Get may decide the token is not due and return it
	// unchanged; then run our own (bounded: never a loop).
	var cred *Credential
	for range 3 {
		var err error
		if cred, err = m.refresh(ctx, connID, stale, true); err != nil {
			return nil, err
		}
		if cred.Token.AccessToken != staleAccessToken {
			break
		}
	}
	return cred, nil
}

// load reads a connection missing from the cache, once for all concurrent
// callers, checks it belongs to appID and is usable, and caches it.
func (m *Manager) load(ctx context.Context, appID, connID string) (*entry, error) {
	ch := m.flights.DoChan("load:"+connID, func() (any, error) {
		// Detached: one caller giving up must not fail the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.ttl)
		defer cancel()
		epoch := m.cache.Epoch()
		c, err := m.st.GetConnectionByID(fctx, connID)
		if err != nil {
			return nil, fmt.Errorf("tokens: reading connection: %w", err)
		}
		if c.Status != model.StatusConnected {
			return c, nil
		}
		e, err := m.decode(c)
		if err != nil {
			return nil, err
		}
		m.put(e, epoch)
		return e, nil
	})
	var r singleflight.Result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("tokens: %w", ctx.Err())
	}
	if r.Err != nil {
		return nil, r.Err
	}
	switch v := r.Val.(type) {
	case *entry:
		if v.cred.AppID != appID {
			return nil, errNotFound
		}
		return v, nil
	case model.Connection:
		if v.AppID != appID {
			return nil, errNotFound
		}
		return nil, statusErr(v.Status)
	}
	return nil, errors.New("tokens: unexpected load result")
}

// statusErr is what a caller gets for a connection that is not CONNECTED.
func statusErr(s model.ConnectionStatus) error {
	switch s {
	case model.StatusNeedsReauth:
		return fmt.Errorf("tokens: %w", model.ErrNeedsReauth)
	case model.StatusDisconnected:
		return &model.Error{Code: model.CodeConflict, Message: "the connection is disconnected; connect it again", Err: ErrDisconnected}
	default:
		return fmt.Errorf("tokens: connection status %q: %w", s, model.ErrConflict)
	}
}

// decode decrypts a CONNECTED connection into a cache entry.
func (m *Manager) decode(c model.Connection) (*entry, error) {
	p, ok := m.reg.Get(c.ProviderID)
	if !ok {
		return nil, &model.Error{Code: model.CodeNotFound, Message: "the connection's provider is not configured",
			Err: fmt.Errorf("tokens: provider %q not in registry: %w", c.ProviderID, model.ErrNotFound)}
	}
	tok, err := m.sealer.open(c)
	if err != nil {
		return nil, err
	}
	return m.newEntry(c, p, tok), nil
}

// Token decrypts a stored connection's credential.
func (m *Manager) Token(_ context.Context, c model.Connection) (model.Token, error) {
	return m.sealer.open(c)
}
