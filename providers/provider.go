package providers

import (
	"sort"
	"time"
)

// Provider is one resolved provider: its catalog entry merged with the
// broker.yaml override, every default applied (Enabled, PKCE, Inject,
// ScopeSeparator, AuthStyle, TestMethod are always set).
type Provider struct {
	ID string
	Spec
	// TokenLifetimeD is Spec.TokenLifetime parsed: the lifetime assumed when
	// a token response has no expires_in (0 = unknown, the token is used
	// until a 401).
	TokenLifetimeD time.Duration
	// Room is the provider's own behaviour, named by Spec.Quirks; nil for a
	// provider that is plain RFC 6749.
	Room Room
}

// HasBrokerClient reports whether the broker-wide OAuth client is set.
func (p *Provider) HasBrokerClient() bool { return p.ClientID != "" && p.ClientSecret != "" }

// IsEnabled reports whether the provider is switched on.
func (p *Provider) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// UsesPKCE reports whether the authorization code flow uses PKCE S256.
func (p *Provider) UsesPKCE() bool { return p.PKCE == nil || *p.PKCE }

// Rotates reports whether the provider rotates refresh tokens on use.
func (p *Provider) Rotates() bool { return p.RotatesRefreshTokens != nil && *p.RotatesRefreshTokens }

// Registry holds the resolved providers by id.
type Registry struct {
	byID map[string]*Provider
	ids  []string
}

// NewRegistry builds a registry of already resolved providers.
func NewRegistry(ps ...*Provider) *Registry {
	r := &Registry{byID: make(map[string]*Provider, len(ps))}
	for _, p := range ps {
		r.byID[p.ID] = p
		r.ids = append(r.ids, p.ID)
	}
	sort.Strings(r.ids)
	return r
}

// Get returns the provider with that id.
func (r *Registry) Get(id string) (*Provider, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// All returns every provider, enabled or not, sorted by id.
func (r *Registry) All() []*Provider {
	out := make([]*Provider, 0, len(r.ids))
	for _, id := range r.ids {
		out = append(out, r.byID[id])
	}
	return out
}
