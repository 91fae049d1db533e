package providers

import (
	"strings"
	"testing"
)

func oauthSpec() Spec {
	return Spec{
		Kind: KindOAuth2, ClientID: "id", ClientSecret: "secret",
		AuthURL: "https://x.example.com/authorize", TokenURL: "https://x.example.com/token",
	}
}

func with(f func(*Spec)) Spec {
	s := oauthSpec()
	f(&s)
	return s
}

func TestResolveRejects(t *testing.T) {
	yes := true
	tests := []struct {
		name      string
		overrides map[string]Spec
		opts      ResolveOptions
		want      []string
	}{
		{"enabled without credentials", map[string]Spec{"google": {Enabled: &yes}}, ResolveOptions{}, []string{
			"providers.google.clientId: required when the provider is enabled",
			"providers.google.clientSecret: required when the provider is enabled",
		}},
		{"caldav enabled without server", map[string]Spec{"caldav": {Enabled: &yes}}, ResolveOptions{}, []string{
			"providers.caldav.apiBaseUrl: required when the provider is enabled",
		}},
		{"new provider without kind", map[string]Spec{"booking": {Name: "Booking"}}, ResolveOptions{}, []string{
			"providers.booking.kind: required for a provider that is not in the catalog (oauth2, apikey or basic)",
		}},
		{"unknown kind", map[string]Spec{"booking": {Kind: "saml"}}, ResolveOptions{}, []string{
			"providers.booking.kind: must be oauth2, apikey or basic",
		}},
		{"catalog kind changed", map[string]Spec{"zoom": {Kind: KindAPIKey}}, ResolveOptions{}, []string{
			"providers.zoom.kind: a catalog provider keeps its kind (oauth2)",
		}},
		{"oauth2 without endpoints", map[string]Spec{"booking": {Kind: KindOAuth2}}, ResolveOptions{}, []string{
			"providers.booking.authUrl: required for an oauth2 provider",
			"providers.booking.tokenUrl: required for an oauth2 provider",
		}},
		{"plain http", map[string]Spec{"b": with(func(s *Spec) { s.TokenURL = "http://x.example.com/token" })}, ResolveOptions{}, []string{
			"providers.b.tokenUrl: must be https (plain http only to 127.0.0.1, localhost or [::1], and only with server.allowInsecureLoopback)",
		}},
		{"plain http off loopback even with the option", map[string]Spec{"b": with(func(s *Spec) { s.APIBaseURL = "http://10.0.0.1/api" })}, ResolveOptions{AllowInsecureLoopback: true}, []string{
			"providers.b.apiBaseUrl: must be https (plain http only to 127.0.0.1, localhost or [::1], and only with server.allowInsecureLoopback)",
		}},
		{"relative, userinfo, fragment, query", map[string]Spec{"b": with(func(s *Spec) {
			s.AuthURL = "/authorize"
			s.TokenURL = "https://user:pw@x.example.com/token"
			s.TestURL = "https://x.example.com/me#frag"
			s.APIBaseURL = "https://api.example.com/v1?x=1"
		})}, ResolveOptions{}, []string{
			"providers.b.apiBaseUrl: must not have a query",
			"providers.b.authUrl: must be an absolute URL",
			"providers.b.testUrl: must not have a fragment",
			"providers.b.tokenUrl: must not contain user info",
		}},
		{"javascript scheme", map[string]Spec{"b": with(func(s *Spec) { s.AuthURL = "javascript:alert(1)" })}, ResolveOptions{}, []string{
			"providers.b.authUrl: must be an absolute URL",
		}},
		{"unknown placeholder", map[string]Spec{"b": with(func(s *Spec) { s.TestURL = "https://x.example.com/{user}" })}, ResolveOptions{}, []string{
			"providers.b.testUrl: unknown placeholder: only {tenant} (and {apiBaseUrl} in testUrl and userInfoUrl) is replaced",
		}},
		{"inject header without name", map[string]Spec{"b": with(func(s *Spec) { s.Inject = &Inject{Type: InjectHeader} })}, ResolveOptions{}, []string{
			"providers.b.inject.name: required for inject type header",
		}},
		{"inject type unknown", map[string]Spec{"b": with(func(s *Spec) { s.Inject = &Inject{Type: "cookie"} })}, ResolveOptions{}, []string{
			"providers.b.inject.type: must be bearer, header, query or basic",
		}},
		{"inject basic on oauth2", map[string]Spec{"b": with(func(s *Spec) { s.Inject = &Inject{Type: InjectBasic} })}, ResolveOptions{}, []string{
			"providers.b.inject.type: basic needs a username and password: only for kind basic",
		}},
		{"inject bearer on basic", map[string]Spec{"caldav": {Inject: &Inject{Type: InjectBearer}}}, ResolveOptions{}, []string{
			"providers.caldav.inject.type: must be basic for a basic provider (username and password)",
		}},
		{"enums", map[string]Spec{"b": with(func(s *Spec) {
			s.AuthStyle = "header"
			s.Events = "outlook"
			s.Quirks = "yahoo"
			s.TestMethod = "get"
		})}, ResolveOptions{}, []string{
			"providers.b.authStyle: must be body or basic",
			"providers.b.events: must be google, microsoft, calcom, caldav or none",
			"providers.b.quirks: must be empty or one of calcom, caldav, google, microsoft, zoom",
			"providers.b.testMethod: must be an HTTP method in upper case, such as GET or PROPFIND",
		}},
		{"token lifetime", map[string]Spec{"b": with(func(s *Spec) { s.TokenLifetime = "30 minutes" })}, ResolveOptions{}, []string{
			"providers.b.tokenLifetime: must be a positive duration such as 30m or 1h",
		}},
		{"tenant", map[string]Spec{"microsoft": {Tenant: "evil.com/x?"}, "google": {Tenant: "contoso"}}, ResolveOptions{}, []string{
			"providers.google.tenant: only for a provider whose URLs contain {tenant}",
			"providers.microsoft.tenant: must be a tenant id, a domain, common, organizations or consumers",
		}},
		{"oauth fields on a credentials provider", map[string]Spec{"apikey": {ClientID: "x", Scopes: []string{"a"}}}, ResolveOptions{}, []string{
			"providers.apikey.clientId: only for oauth2 providers",
			"providers.apikey.scopes: only for oauth2 providers",
		}},
		{"reserved authorize parameters", map[string]Spec{"google": {AuthParams: map[string]string{"state": "x", "redirect_uri": "https://evil.com", "login_hint": "a@b"}}}, ResolveOptions{}, []string{
			"providers.google.authParams.login_hint: set by the broker",
			"providers.google.authParams.redirect_uri: set by the broker",
			"providers.google.authParams.state: set by the broker",
		}},
		{"static headers", map[string]Spec{"calcom": {Headers: map[string]string{"Authorization": "x", "Bad Name": "y", "X-Ok": "a\r\nb"}}}, ResolveOptions{}, []string{
			"providers.calcom.headers.Authorization: set by the broker or the proxy (credentials go through inject)",
			"providers.calcom.headers.Bad Name: not a valid header name",
			"providers.calcom.headers.X-Ok: must not contain CR, LF or NUL",
		}},
		{"scope with separator", map[string]Spec{"calcom": {Scopes: []string{"READ_BOOKING,READ_PROFILE"}}}, ResolveOptions{}, []string{
			"providers.calcom.scopes[0]: must not be empty or contain the scope separator",
		}},
		{"invalid id", map[string]Spec{"My Provider": oauthSpec()}, ResolveOptions{}, []string{
			"providers.My Provider: invalid provider id: use 1 to 63 lowercase letters, digits, - or _, starting with a letter or digit",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, errs := Resolve(tc.overrides, withRooms(tc.opts))
			if r != nil {
				t.Error("a registry came back with errors")
			}
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
