package tokens

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// RunKeepAlive refreshes idle connections of providers whose refresh tokens
// lapse when unused (Spec.KeepAlive, e.g. Microsoft's 90 days) until ctx
// ends. Every interval it selects the CONNECTED connections of those
// providers last refreshed more than idleAfter ago and refreshes them one at
// a time, spread with jitter over the interval, so there is no storm. Each
// refresh takes the normal path (singleflight and lease), and the idle test
// is repeated on the stored row once the lease is held, so replicas running
// the same loop refresh a connection only once.
func (m *Manager) RunKeepAlive(ctx context.Context, interval, idleAfter time.Duration) {
	if interval <= 0 || idleAfter <= 0 {
		return
	}
	// Start at a random point of the first interval: replicas started
	// together do not scan together.
	if !sleep(ctx, rand.N(interval/4+1)) {
		return
	}
	for {
		start := time.Now()
		m.keepAlivePass(ctx, idleAfter, interval*9/10)
		if !sleep(ctx, interval-time.Since(start)) {
			return
		}
	}
}

// keepAlivePass runs one scan; spread is the time its refreshes are spread
// over. It returns how many idle connections it went through without error
// (refreshed here, or found refreshed by another replica).
func (m *Manager) keepAlivePass(ctx context.Context, idleAfter, spread time.Duration) int {
	cutoff := m.now().Add(-idleAfter)
	var ids []string
	for _, p := range m.reg.All() {
		if p.Kind != providers.KindOAuth2 || p.KeepAlive == nil || !*p.KeepAlive {
			continue
		}
		got, err := m.idleConnections(ctx, p.ID, cutoff)
		if err != nil {
			m.log.Warn("tokens: keep-alive scan failed", "provider", p.ID, "err", err)
		}
		ids = append(ids, got...)
	}
	if len(ids) == 0 {
		return 0
	}
	idle := func(c model.Connection, _ model.Token) bool { return lastRefreshed(c).Before(cutoff) }
	gap := spread / time.Duration(len(ids))
	done := 0
	for _, id := range ids {
		if gap > 0 && !sleep(ctx, gap/2+rand.N(gap)) {
			break
		}
		if ctx.Err() != nil {
			break
		}
		if _, err := m.refresh(ctx, id, idle, true); err != nil {
			m.log.Warn("tokens: keep-alive refresh failed", "connection", id, "err", err)
			continue
		}
		done++
	}
	m.log.Info("tokens: keep-alive pass", "idle", len(ids), "ok", done)
	return done
}

// idleConnections pages through a provider's CONNECTED connections and
// returns those last refreshed before cutoff.
func (m *Manager) idleConnections(ctx context.Context, providerID string, cutoff time.Time) ([]string, error) {
	f := store.ConnectionFilter{ProviderID: providerID, Status: model.StatusConnected, Limit: 500}
	var ids []string
	for {
		page, err := m.st.ListConnections(ctx, f)
		if err != nil {
			return ids, err
		}
		for _, c := range page {
			if lastRefreshed(c).Before(cutoff) {
				ids = append(ids, c.ID)
			}
		}
		if len(page) < f.Limit {
			return ids, nil
		}
		f.After = page[len(page)-1].ID
	}
}

// lastRefreshed is when the connection last got a token from the provider.
func lastRefreshed(c model.Connection) time.Time {
	if !c.LastRefreshedAt.IsZero() {
		return c.LastRefreshedAt
	}
	return c.CreatedAt
}
