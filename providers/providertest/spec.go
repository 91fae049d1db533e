package providertest

import (
	"net/http"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/registry"
)

// Spec returns a providers.Spec that points at the fake, shaped like the
// catalog entry of its quirk (scopes and separator, client auth style,
// Google's authorize parameters, Cal.com's refresh URL, lifetime and
// cal-api-version header). The URLs are plain http on 127.0.0.1: resolve it
// with allowInsecureLoopback, or use Provider.
func (s *Server) Spec() providers.Spec {
	yes, no := true, false
	rotates := s.o.RotateRefreshTokens
	sp := providers.Spec{
		Kind:                 providers.KindOAuth2,
		Name:                 "Fake " + s.quirkName(),
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
		Quirks:               s.o.Quirks,
	}
	switch s.o.Quirks {
	case Google:
		sp.Scopes = []string{"openid", "email", "profile", "https://www.googleapis.com/auth/calendar"}
		sp.AuthParams = map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}
	case Microsoft:
		sp.Scopes = []string{"offline_access", "User.Read", "Calendars.ReadWrite"}
		sp.RevokeURL = "" // Microsoft has no revocation endpoint
		sp.KeepAlive = &yes
	case Zoom:
		sp.Scopes = []string{"meeting:read", "meeting:write", "user:read"}
		sp.AuthStyle = "basic"
	case CalCom:
		sp.Scopes = []string{"READ_BOOKING", "READ_PROFILE"}
		sp.ScopeSeparator = ","
		sp.RefreshURL = s.URL + "/refresh"
		sp.RevokeURL = ""
		sp.TokenLifetime = "30m"
		sp.Headers = map[string]string{"Cal-Api-Version": CalAPIVersion}
	}
	return sp
}

// Provider returns the fake as a resolved provider with id "fake-<quirk>"
// ("fake" for plain RFC 6749), every default applied, without going through
// the catalog.
func (s *Server) Provider(t testing.TB) *providers.Provider {
	t.Helper()
	sp := s.Spec()
	p := &providers.Provider{ID: "fake", Spec: sp, Room: registry.Rooms()[sp.Quirks]}
	if s.o.Quirks != "" {
		p.ID = "fake-" + s.o.Quirks
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

func (s *Server) quirkName() string {
	switch s.o.Quirks {
	case Google:
		return "Google"
	case Microsoft:
		return "Microsoft"
	case Zoom:
		return "Zoom"
	case CalCom:
		return "Cal.com"
	}
	return "OAuth"
}
