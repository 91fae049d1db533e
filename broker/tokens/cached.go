package tokens

import (
	"time"

	"github.com/oauthbroker/broker/broker/cache"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// entry is one cached connection. cred is handed out by pointer, so a hit
// allocates nothing.
type entry struct {
	cred    Credential
	version int64
	// refreshAt is the token expiry minus the margin; zero = never expires.
	refreshAt time.Time
}

// fresh reports whether the cached token can be used at now as is.
func (e *entry) fresh(now time.Time) bool {
	return e.refreshAt.IsZero() || now.Before(e.refreshAt)
}

// newEntry is the cache entry of a CONNECTED connection holding tok.
func (m *Manager) newEntry(c model.Connection, p *providers.Provider, tok model.Token) *entry {
	e := &entry{
		cred:    Credential{ConnectionID: c.ID, AppID: c.AppID, Provider: p, Status: c.Status, Token: tok},
		version: c.Version,
	}
	if !tok.Expiry.IsZero() {
		e.refreshAt = tok.Expiry.Add(-m.margin)
	}
	return e
}

// put caches e unless a purge happened since epoch was read (the value may
// predate a disconnect) or a newer version is already cached.
func (m *Manager) put(e *entry, epoch cache.Epoch) {
	m.cache.Add(epoch, e.cred.ConnectionID, e, func(cached *entry) bool { return cached.version > e.version })
}

// Purge drops one connection from the cache.
func (m *Manager) Purge(connID string) { m.cache.Remove(connID) }

// PurgeAll empties the cache.
func (m *Manager) PurgeAll() { m.cache.Purge() }

// purgeApp drops every cached connection of an app.
func (m *Manager) purgeApp(appID string) {
	m.cache.RemoveFunc(func(_ string, e *entry) bool { return e.cred.AppID == appID })
}

// Invalidate applies a change seen by the store (another replica's refresh,
// disconnect, app deletion): a zero Change means "resync everything".
func (m *Manager) Invalidate(ch store.Change) {
	switch ch.Kind {
	case store.ChangeConnection:
		m.Purge(ch.ID)
	case store.ChangeApp:
		m.purgeApp(ch.ID)
	default:
		m.PurgeAll()
	}
}

// Len is the number of cached connections (for metrics and tests).
func (m *Manager) Len() int { return m.cache.Len() }
