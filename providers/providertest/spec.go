package providertest

import (
	"net/http"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
)

// Spec returns a providers.Spec that points at the fake, shaped by its
// Wire like the catalog entry of its provider. The URLs are plain http on
// 127.0.0.1: resolve it with allowInsecureLoopback, or use Provider.
func (s *Server) Spec() providers.Spec {
	yes, no := true, false
	rotates := s.o.RotateRefreshTokens
	sp := providers.Spec{
		Kind:                 providers.KindOAuth2,
		Name:                 "Fake OAuth",
		Enabled:              &yes,
		ClientID:             s.o.ClientID,
		ClientSecret:         s.o.ClientSecret,
		AuthURL:              s.URL + "/authorize",
		TokenURL:             s.URL + "/token",
		RevokeURL:            s.URL + "/revoke",
		UserInfoURL:          s.URL + "/userinfo",
		TestURL:              s.URL + "/api/me",
		TestMethod:           http.MethodGet,
		Issuer:               s.o.Issuer,
		APIBaseURL:           s.URL + "/api",
		Scopes:               []string{"read", "write"},
		ScopeSeparator:       " ",
		AuthStyle:            "body",
		PKCE:                 &yes,
		Inject:               &providers.Inject{Type: providers.InjectBearer},
		RotatesRefreshTokens: &rotates,
		KeepAlive:            &no,
		Events:               "none",
		Quirks:               s.wire.Name(),
	}
	s.wire.Spec(&sp, s.URL)
	return sp
}

// Provider returns the fake as a resolved provider with id "fake-<name>"
// ("fake" for plain RFC 6749) and the Wire's room, every default applied,
// without going through the catalog.
func (s *Server) Provider(t testing.TB) *providers.Provider {
	t.Helper()
	sp := s.Spec()
	p := &providers.Provider{ID: "fake", Spec: sp, Room: s.wire.Room()}
	if n := s.wire.Name(); n != "" {
		p.ID = "fake-" + n
	}
	if sp.TokenLifetime != "" {
		d, err := time.ParseDuration(sp.TokenLifetime)
		if err != nil {
			t.Fatalf("providertest: token lifetime: %v", err)
		}
		p.TokenLifetimeD = d
	}
	return p
}
