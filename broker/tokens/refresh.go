package tokens

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/oauthbroker/broker/broker/cache"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/providers"
)

// wantFn decides, on the connection as stored once the lease is held,
// whether it still needs a refresh (another replica may have done it).
type wantFn func(c model.Connection, tok model.Token) bool

// Codes stored in Connection.LastError: codes, never provider text.
const (
	LastErrorInvalidGrant   = "invalid_grant"
	LastErrorNoRefreshToken = "no_refresh_token"
)

var (
	errGone       = errors.New("tokens: connection no longer connected")
	errSuperseded = errors.New("tokens: connection holds a newer grant")
	errLeaseLost  = errors.New("tokens: refresh lease lost")
)

// due reports whether tok is within the expiry margin at now.
func (m *Manager) due(_ model.Connection, tok model.Token) bool {
	return !tok.Expiry.IsZero() && !m.now().Before(tok.Expiry.Add(-m.margin))
}

// expired reports whether tok can no longer be used at all.
func (m *Manager) expired(tok model.Token) bool {
	return !tok.Expiry.IsZero() && !m.now().Before(tok.Expiry)
}

// refreshDue refreshes a cached or loaded entry whose token is due.
func (m *Manager) refreshDue(ctx context.Context, e *entry) (*Credential, error) {
	return m.refresh(ctx, e.cred.ConnectionID, m.due, false)
}

// refresh runs one refresh of connID for every caller of this process
// (singleflight), on a context detached from the caller: a caller that gives
// up gets its context error, the refresh goes on and is stored.
func (m *Manager) refresh(ctx context.Context, connID string, want wantFn, force bool) (*Credential, error) {
	ch := m.flights.DoChan(connID, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout)
		defer cancel()
		return m.refreshLeased(fctx, connID, want, force)
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
	return r.Val.(*Credential), nil
}

// refreshLeased holds the connection's store lease (one refresh across
// replicas), re-reads the connection and refreshes it if still wanted.
func (m *Manager) refreshLeased(ctx context.Context, id string, want wantFn, force bool) (*Credential, error) {
	lease := "refresh:" + id
	if err := m.acquire(ctx, lease); err != nil {
		return nil, err
	}
	defer m.release(ctx, lease)

	epoch := m.cache.Epoch()
	c, err := m.st.GetConnectionByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tokens: reading connection: %w", err)
	}
	if c.Status != model.StatusConnected {
		m.Purge(id)
		return nil, statusErr(c.Status)
	}
	e, err := m.decode(c)
	if err != nil {
		return nil, err
	}
	p, old := e.cred.Provider, e.cred.Token
	if !want(c, old) || p.Kind != providers.KindOAuth2 {
		m.put(e, epoch)
		return &e.cred, nil
	}
	if old.RefreshToken == "" {
		if force || !m.expired(old) {
			// Nothing to refresh with; the token is used until it fails.
			m.put(e, epoch)
			return &e.cred, nil
		}
		return m.markReauth(ctx, c, old.RefreshToken, LastErrorNoRefreshToken)
	}
	client, err := m.ClientFor(ctx, c.AppID, p, c.ClientSource)
	if err != nil {
		m.log.Warn("tokens: no OAuth client to refresh with", "connection", id, "provider", p.ID, "err", err)
		if !errors.Is(err, model.ErrNotFound) {
			return nil, err // the store down is 503, a bad stored secret 500: not the caller's conflict
		}
		return nil, &model.Error{Code: model.CodeConflict,
			Message: "the OAuth client this connection was made with is no longer configured", Err: err}
	}
	ctx, span := m.tel.Tracer().Start(ctx, "broker.token.refresh", trace.WithAttributes(
		telemetry.AttrProvider.String(p.ID), telemetry.AttrApp.String(c.AppID), telemetry.AttrConnection.String(c.ID)))
	defer span.End()
	tok, err := m.callRefresh(ctx, lease, p, client, old.RefreshToken)
	if err != nil {
		outcome := telemetry.RefreshError
		if !errors.Is(err, errLeaseLost) && p.ClassifyTokenError(err) == providers.ClassReauth {
			outcome = telemetry.RefreshNeedsReauth
		}
		m.metrics.Refresh(ctx, p.ID, outcome)
		span.SetAttributes(telemetry.AttrOutcome.String(outcome))
		span.SetStatus(codes.Error, describe(err))
		return m.refreshFailed(ctx, c, e, epoch, force, err)
	}
	m.metrics.Refresh(ctx, p.ID, telemetry.RefreshOK)
	span.SetAttributes(telemetry.AttrOutcome.String(telemetry.RefreshOK))
	if tok.RefreshToken == "" {
		tok.RefreshToken = old.RefreshToken // never lose the grant
	}
	return m.persist(ctx, c, p, old.RefreshToken, tok, epoch)
}

// callRefresh calls the token endpoint, retrying transient failures with
// backoff. Before each retry it renews the lease, so a slow provider does not
// let another replica start a second refresh.
func (m *Manager) callRefresh(ctx context.Context, lease string, p *providers.Provider, c providers.Client, rt string) (model.Token, error) {
	for attempt := 0; ; attempt++ {
		t, err := p.Refresh(ctx, m.hc, c, rt)
		if err == nil {
			return providers.TokenFromOAuth2(t), nil
		}
		if p.ClassifyTokenError(err) != providers.ClassTransient || attempt >= len(m.delays) || ctx.Err() != nil {
			return model.Token{}, err
		}
		m.log.Info("tokens: token endpoint failed, retrying", "provider", p.ID, "attempt", attempt+1, "cause", describe(err))
		if !sleep(ctx, m.delays[attempt]) {
			return model.Token{}, err
		}
		ok, lerr := m.st.AcquireLease(ctx, lease, m.holder, m.ttl, m.now())
		if lerr != nil || !ok {
			return model.Token{}, errLeaseLost
		}
	}
}

// refreshFailed turns a failed refresh into the caller's answer: a dead grant
// marks the connection NEEDS_REAUTH; anything else leaves it as it is, and a
// token that has not expired yet is still handed out.
func (m *Manager) refreshFailed(ctx context.Context, c model.Connection, e *entry, epoch cache.Epoch, force bool, err error) (*Credential, error) {
	p := e.cred.Provider
	if !errors.Is(err, errLeaseLost) && p.ClassifyTokenError(err) == providers.ClassReauth {
		m.log.Warn("tokens: refresh token rejected, connection needs re-authorization", "connection", c.ID, "provider", p.ID, "cause", describe(err))
		return m.markReauth(ctx, c, e.cred.Token.RefreshToken, LastErrorInvalidGrant)
	}
	m.log.Warn("tokens: refresh failed", "connection", c.ID, "provider", p.ID, "cause", describe(err))
	if !force && !m.expired(e.cred.Token) {
		m.put(e, epoch)
		return &e.cred, nil
	}
	sentinel := model.ErrUpstreamUnavailable
	if errors.Is(err, context.DeadlineExceeded) {
		sentinel = model.ErrUpstreamTimeout
	}
	return nil, fmt.Errorf("tokens: refreshing token (%s): %w", describe(err), sentinel)
}

// persist stores the refreshed token (compare-and-swap) before anyone uses
// it, retrying while the store is briefly unavailable: for a provider that
// rotates refresh tokens the old one is already spent.
func (m *Manager) persist(ctx context.Context, c model.Connection, p *providers.Provider, used string, tok model.Token, epoch cache.Epoch) (*Credential, error) {
	ct, err := m.sealer.seal(c.ID, tok)
	if err != nil {
		return nil, err
	}
	now := m.now()
	var gone model.ConnectionStatus
	fn := func(cur model.Connection) (model.Connection, error) {
		if cur.Status != model.StatusConnected {
			gone = cur.Status
			return cur, errGone
		}
		if !m.sealer.sameGrant(cur, c, used) {
			return cur, errSuperseded
		}
		cur.Credentials = ct
		cur.TokenExpiry = tok.Expiry
		cur.LastRefreshedAt = now
		cur.LastError = ""
		cur.UpdatedAt = now
		return cur, nil
	}
	var updated model.Connection
	for attempt := 0; ; attempt++ {
		updated, err = m.st.UpdateConnection(ctx, c.ID, fn)
		if err == nil || errors.Is(err, errGone) || errors.Is(err, errSuperseded) ||
			attempt >= len(m.delays) || !sleep(ctx, m.delays[attempt]) {
			break
		}
	}
	switch {
	case err == nil:
		e := m.newEntry(updated, p, tok)
		m.put(e, epoch)
		return &e.cred, nil
	case errors.Is(err, errGone):
		// Disconnected while we refreshed: the new token is dropped.
		m.Purge(c.ID)
		return nil, statusErr(gone)
	case errors.Is(err, errSuperseded):
		// A reconnect stored a newer grant meanwhile: that one wins.
		m.Purge(c.ID)
		return m.current(ctx, c.ID)
	default:
		m.log.Error("tokens: refreshed token could not be stored", "connection", c.ID, "provider", p.ID, "err", err)
		return nil, fmt.Errorf("tokens: storing refreshed token: %w", err)
	}
}

// current re-reads a connection and returns its credential as stored.
func (m *Manager) current(ctx context.Context, id string) (*Credential, error) {
	epoch := m.cache.Epoch()
	c, err := m.st.GetConnectionByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tokens: reading connection: %w", err)
	}
	if c.Status != model.StatusConnected {
		return nil, statusErr(c.Status)
	}
	e, err := m.decode(c)
	if err != nil {
		return nil, err
	}
	m.put(e, epoch)
	return &e.cred, nil
}

// markReauth marks the connection NEEDS_REAUTH (Lifecycle.markReauth) and
// answers model.ErrNeedsReauth, or the stored credential when a reconnect
// replaced the grant meanwhile.
func (m *Manager) markReauth(ctx context.Context, c model.Connection, refreshToken, code string) (*Credential, error) {
	err := m.Lifecycle.markReauth(ctx, c, refreshToken, code)
	if errors.Is(err, errSuperseded) {
		// Reconnected or disconnected meanwhile: answer what is stored now.
		return m.current(ctx, c.ID)
	}
	return nil, err
}

// acquire takes the connection's refresh lease, polling with jittered
// backoff while another replica holds it (until it is released or expires).
func (m *Manager) acquire(ctx context.Context, lease string) error {
	delay := 10 * time.Millisecond
	for {
		ok, err := m.st.AcquireLease(ctx, lease, m.holder, m.ttl, m.now())
		if err != nil {
			return fmt.Errorf("tokens: acquiring refresh lease: %w", err)
		}
		if ok {
			return nil
		}
		if !sleep(ctx, delay/2+rand.N(delay)) {
			return fmt.Errorf("tokens: waiting for refresh lease: %w", model.ErrUpstreamTimeout)
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// release frees the lease even when the refresh ran out of time.
func (m *Manager) release(ctx context.Context, lease string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.st.ReleaseLease(rctx, lease, m.holder); err != nil {
		// The lease expires by itself after LeaseTTL.
		m.log.Warn("tokens: releasing refresh lease", "lease", lease, "err", err)
	}
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// describe says what went wrong at a token endpoint in words safe for a log
// line (providers.DescribeError), knowing this package's own lease error.
func describe(err error) string {
	if errors.Is(err, errLeaseLost) {
		return "refresh lease lost"
	}
	return providers.DescribeError(err)
}
