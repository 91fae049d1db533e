package tokens

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// revokeTimeout bounds the best-effort revoke call of Disconnect.
const revokeTimeout = 10 * time.Second

// Save stores a newly authorized connection with its token, encrypted with
// the connection's final id as additional data. Connecting the same account
// for the same app, provider and schedule again updates the existing
// connection (keeping its id). It writes the webhook outbox entry
// (connection.created, or connection.reconnected when the existing one was
// NEEDS_REAUTH or DISCONNECTED) and purges the cache entry. It returns the
// stored connection and whether it was created.
func (m *Manager) Save(ctx context.Context, c model.Connection, tok model.Token) (model.Connection, bool, error) {
	if c.AppID == "" || c.ProviderID == "" {
		return model.Connection{}, false, errors.New("tokens: save: connection needs an app and a provider")
	}
	if c.ID == "" {
		c.ID = model.NewID(model.PrefixConnection)
	}
	now := m.now()
	c.Status = model.StatusConnected
	c.TokenExpiry = tok.Expiry
	c.LastRefreshedAt = now
	c.LastError = ""
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	prevConn, found, err := m.previous(ctx, c)
	if err != nil {
		return model.Connection{}, false, err
	}
	if found {
		// Google sends a refresh token only on first consent: a reconnect
		// without one keeps the grant the connection already holds.
		// A refresh token belongs to the client it was issued to: only
		// carry it over when the reconnect used the same client.
		if tok.RefreshToken == "" && len(prevConn.Credentials) > 0 && prevConn.ClientSource == c.ClientSource {
			if old, err := m.Token(ctx, prevConn); err == nil {
				tok.RefreshToken = old.RefreshToken
			}
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
	stored, created, err := m.st.UpsertConnectionWithEvent(ctx, c, func(id string) ([]byte, error) { return m.seal(id, tok) }, event)
	if err != nil {
		return model.Connection{}, false, fmt.Errorf("tokens: saving connection: %w", err)
	}
	m.Purge(stored.ID)
	return stored, created, nil
}

// previous finds the connection Save would update (same app, provider,
// schedule and account), if any.
func (m *Manager) previous(ctx context.Context, c model.Connection) (model.Connection, bool, error) {
	f := store.ConnectionFilter{AppID: c.AppID, ProviderID: c.ProviderID, Limit: 100}
	if c.ScheduleID != "" {
		f.ScheduleIDs = []string{c.ScheduleID}
	}
	for {
		page, err := m.st.ListConnections(ctx, f)
		if err != nil {
			return model.Connection{}, false, fmt.Errorf("tokens: looking up existing connection: %w", err)
		}
		for _, x := range page {
			if x.ScheduleID == c.ScheduleID && x.AccountID == c.AccountID {
				return x, true, nil
			}
		}
		if len(page) < f.Limit {
			return model.Connection{}, false, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// Disconnect revokes the connection's grant at the provider where it can (a
// failed revoke is logged, not fatal), wipes the stored credential, sets
// DISCONNECTED, purges the cache and writes connection.disconnected. A
// foreign or missing connection is model.ErrNotFound; disconnecting twice
// returns the connection unchanged.
func (m *Manager) Disconnect(ctx context.Context, appID, connID string) (model.Connection, error) {
	c, err := m.st.GetConnection(ctx, appID, connID)
	if err != nil {
		return model.Connection{}, fmt.Errorf("tokens: disconnect: %w", err)
	}
	if c.Status == model.StatusDisconnected {
		m.Purge(connID)
		return c, nil
	}
	m.revoke(ctx, c)
	now := m.now()
	updated, err := m.st.UpdateConnectionWithEvent(ctx, connID, func(cur model.Connection) (model.Connection, error) {
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
	m.Purge(connID)
	if err != nil {
		return model.Connection{}, fmt.Errorf("tokens: disconnect: %w", err)
	}
	return updated, nil
}

// revoke asks the provider to revoke the connection's grant, best effort.
func (m *Manager) revoke(ctx context.Context, c model.Connection) {
	p, ok := m.reg.Get(c.ProviderID)
	if !ok || p.Kind != providers.KindOAuth2 || len(c.Credentials) == 0 {
		return
	}
	tok, err := m.Token(ctx, c)
	if err != nil {
		m.log.Warn("tokens: revoke skipped: credential unreadable", "connection", c.ID, "err", err)
		return
	}
	client, err := m.ClientFor(ctx, c.AppID, p, c.ClientSource)
	if err != nil {
		m.log.Warn("tokens: revoke skipped: no client", "connection", c.ID, "provider", p.ID, "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	if err := p.Revoke(rctx, m.hc, client, tok); err != nil {
		m.log.Warn("tokens: revoke at provider failed", "connection", c.ID, "provider", p.ID, "cause", describe(err))
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
func (m *Manager) RevokeApp(ctx context.Context, appID string) error {
	f := store.ConnectionFilter{AppID: appID, Limit: 100}
	sem := make(chan struct{}, revokeAppConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		page, err := m.st.ListConnections(ctx, f)
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
				m.revoke(ctx, c)
			}()
		}
		if len(page) < f.Limit {
			return nil
		}
		f.After = page[len(page)-1].ID
	}
}
