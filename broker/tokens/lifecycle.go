package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// revokeTimeout bounds the best-effort revoke call of Disconnect.
const revokeTimeout = 10 * time.Second

// Lifecycle changes what a connection is: it stores a new or reconnected
// one, marks one NEEDS_REAUTH, disconnects one (revoking its grant) or
// every one of an app being deleted. Each status change writes its webhook
// event into the outbox in the change's own transaction (docs/webhooks.md),
// and drops the connection from the token cache through purge.
type Lifecycle struct {
	st      store.Store
	sealer  sealer
	clients *Clients
	reg     *providers.Registry
	hc      *http.Client
	now     func() time.Time
	log     *slog.Logger
	purge   func(connID string)
}

// Save stores a newly authorized connection with its token, encrypted with
// the connection's final id as additional data. Connecting the same account
// for the same app, provider and schedule again updates the existing
// connection (keeping its id). It writes the webhook outbox entry
// (connection.created, or connection.reconnected when the existing one was
// NEEDS_REAUTH or DISCONNECTED) and purges the cache entry. It returns the
// stored connection and whether it was created.
func (l *Lifecycle) Save(ctx context.Context, c model.Connection, tok model.Token) (model.Connection, bool, error) {
	if c.AppID == "" || c.ProviderID == "" {
		return model.Connection{}, false, errors.New("tokens: save: connection needs an app and a provider")
	}
	if c.ID == "" {
		c.ID = model.NewID(model.PrefixConnection)
	}
	now := l.now()
	c.Status = model.StatusConnected
	c.TokenExpiry = tok.Expiry
	c.LastRefreshedAt = now
	c.LastError = ""
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	// Google sends a refresh token only on first consent: a reconnect
	// without one keeps the grant the connection already holds. A refresh
	// token belongs to the client it was issued to: only carry it over when
	// the reconnect used the same client.
	if tok.RefreshToken == "" {
		prev, err := l.st.FindConnection(ctx, store.KeyOf(c))
		switch {
		case err == nil:
			if len(prev.Credentials) > 0 && prev.ClientSource == c.ClientSource {
				if old, err := l.sealer.open(prev); err == nil {
					tok.RefreshToken = old.RefreshToken
				}
			}
		case !errors.Is(err, model.ErrNotFound):
			return model.Connection{}, false, fmt.Errorf("tokens: looking up existing connection: %w", err)
		}
	}
	// The event is decided on the row the store locked, in its transaction.
	event := func(prev *model.Connection, next model.Connection) (model.WebhookEvent, bool) {
		switch {
		case prev == nil:
			return model.NewConnectionEvent(model.EventConnectionCreated, next, now), true
		case prev.Status == model.StatusNeedsReauth || prev.Status == model.StatusDisconnected:
			return model.NewConnectionEvent(model.EventConnectionReconnected, next, now), true
		}
		return model.WebhookEvent{}, false
	}
	stored, created, err := l.st.UpsertConnectionWithEvent(ctx, c, func(id string) ([]byte, error) { return l.sealer.seal(id, tok) }, event)
	if err != nil {
		return model.Connection{}, false, fmt.Errorf("tokens: saving connection: %w", err)
	}
	l.purge(stored.ID)
	return stored, created, nil
}

// Disconnect revokes the connection's grant at the provider where it can (a
// failed revoke is logged, not fatal), wipes the stored credential, sets
// DISCONNECTED, purges the cache and writes connection.disconnected. A
// foreign or missing connection is model.ErrNotFound; disconnecting twice
// returns the connection unchanged.
func (l *Lifecycle) Disconnect(ctx context.Context, appID, connID string) (model.Connection, error) {
	c, err := l.st.GetConnection(ctx, appID, connID)
	if err != nil {
		return model.Connection{}, fmt.Errorf("tokens: disconnect: %w", err)
	}
	if c.Status == model.StatusDisconnected {
		l.purge(connID)
		return c, nil
	}
	l.revoke(ctx, c)
	now := l.now()
	updated, err := l.st.UpdateConnectionWithEvent(ctx, connID, func(cur model.Connection) (model.Connection, error) {
		cur.Status = model.StatusDisconnected
		cur.Credentials = nil
		cur.TokenExpiry = time.Time{}
		cur.LastError = ""
		cur.UpdatedAt = now
		return cur, nil
	}, func(prev *model.Connection, next model.Connection) (model.WebhookEvent, bool) {
		// A concurrent disconnect that won already reported it.
		return model.NewConnectionEvent(model.EventConnectionDisconnect, next, now), prev.Status != model.StatusDisconnected
	})
	l.purge(connID)
	if err != nil {
		return model.Connection{}, fmt.Errorf("tokens: disconnect: %w", err)
	}
	return updated, nil
}

// revoke asks the provider to revoke the connection's grant, best effort.
func (l *Lifecycle) revoke(ctx context.Context, c model.Connection) {
	p, ok := l.reg.Get(c.ProviderID)
	if !ok || p.Kind != providers.KindOAuth2 || len(c.Credentials) == 0 {
		return
	}
	tok, err := l.sealer.open(c)
	if err != nil {
		l.log.Warn("tokens: revoke skipped: credential unreadable", "connection", c.ID, "err", err)
		return
	}
	client, err := l.clients.ClientFor(ctx, c.AppID, p, c.ClientSource)
	if err != nil {
		l.log.Warn("tokens: revoke skipped: no client", "connection", c.ID, "provider", p.ID, "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	if err := p.Revoke(rctx, l.hc, client, tok); err != nil {
		l.log.Warn("tokens: revoke at provider failed", "connection", c.ID, "provider", p.ID, "cause", describe(err))
	}
}

// revokeAppConcurrency bounds how many revoke calls deleting one app makes
// at a time.
const revokeAppConcurrency = 8

// RevokeApp revokes at their providers the grants of every connection of
// an app that is being deleted, as Disconnect does for one (best effort,
// each call bounded by revokeTimeout). It runs before the app and its own
// OAuth clients are removed, since a grant made with the app's client can
// only be revoked with it. The store then marks the connections
// DISCONNECTED and wipes their credentials.
func (l *Lifecycle) RevokeApp(ctx context.Context, appID string) error {
	f := store.ConnectionFilter{AppID: appID, Limit: 100}
	sem := make(chan struct{}, revokeAppConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		page, err := l.st.ListConnections(ctx, f)
		if err != nil {
			return fmt.Errorf("tokens: revoke app: %w", err)
		}
		for _, c := range page {
			if c.Status == model.StatusDisconnected {
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				l.revoke(ctx, c)
			}()
		}
		if len(page) < f.Limit {
			return nil
		}
		f.After = page[len(page)-1].ID
	}
}

// markReauth sets NEEDS_REAUTH (keeping the stored credential: nothing is
// wiped) with LastError code, purges the cache and writes the webhook
// outbox entry, all only while the connection still holds the grant read
// held (refresh token refreshToken). It answers model.ErrNeedsReauth, or
// errSuperseded when a reconnect or a disconnect replaced the grant
// meanwhile.
func (l *Lifecycle) markReauth(ctx context.Context, read model.Connection, refreshToken, code string) error {
	now := l.now()
	_, err := l.st.UpdateConnectionWithEvent(ctx, read.ID, func(cur model.Connection) (model.Connection, error) {
		if cur.Status != model.StatusConnected || !l.sealer.sameGrant(cur, read, refreshToken) {
			return cur, errSuperseded
		}
		cur.Status = model.StatusNeedsReauth
		cur.LastError = code
		cur.UpdatedAt = now
		return cur, nil
	}, func(_ *model.Connection, next model.Connection) (model.WebhookEvent, bool) {
		// Written with the change, in its transaction (docs/webhooks.md).
		return model.NewConnectionEvent(model.EventConnectionNeedsReauth, next, now), true
	})
	l.purge(read.ID)
	switch {
	case errors.Is(err, errSuperseded):
		return errSuperseded
	case err != nil:
		return fmt.Errorf("tokens: marking connection NEEDS_REAUTH: %w", err)
	}
	return fmt.Errorf("tokens: %w", model.ErrNeedsReauth)
}
