package providers

import (
	"slices"
	"testing"
	"time"
)

func TestCatalogHasTheBuiltInProviders(t *testing.T) {
	cat, err := Catalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"google", "microsoft", "zoom", "calcom", "caldav", "apikey"} {
		if _, ok := cat[id]; !ok {
			t.Errorf("catalog lacks %q", id)
		}
	}
	if len(cat) != 6 {
		t.Errorf("catalog has %d entries, want 6", len(cat))
	}
}

func TestCatalogCopiesAreIndependent(t *testing.T) {
	a, _ := Catalog()
	a["google"].AuthParams["access_type"] = "online"
	a["google"].Scopes[0] = "changed"
	*a["google"].PKCE = false
	b, _ := Catalog()
	g := b["google"]
	if g.AuthParams["access_type"] != "offline" || g.Scopes[0] != "openid" || !*g.PKCE {
		t.Fatalf("a caller's change to the catalog leaked into the next copy: %+v", g)
	}
}

func TestParseCatalogIsStrict(t *testing.T) {
	_, err := parseCatalog([]byte("google:\n  kind: oauth2\n  authURL: https://x\n"))
	if err == nil {
		t.Fatal("an unknown key in the catalog was accepted")
	}
}

// resolved resolves overrides and fails the test on any error.
func resolved(t *testing.T, overrides map[string]Spec) *Registry {
	t.Helper()
	r, errs := Resolve(overrides, withRooms(ResolveOptions{}))
	if len(errs) > 0 {
		t.Fatalf("Resolve: %v", errs)
	}
	return r
}

func get(t *testing.T, r *Registry, id string) *Provider {
	t.Helper()
	p, ok := r.Get(id)
	if !ok {
		t.Fatalf("provider %q missing", id)
	}
	return p
}

func creds() Spec { return Spec{ClientID: "id", ClientSecret: "secret"} }

// Without configuration no provider has a broker-wide client: OAuth
// providers stay available for apps that register their own client, and
// the credential providers that need a server URL stay off.
func TestCatalogAloneResolvesWithNoBrokerClient(t *testing.T) {
	r := resolved(t, nil)
	if got := len(r.All()); got != 6 {
		t.Fatalf("got %d providers, want 6", got)
	}
	for _, p := range r.All() {
		if p.HasBrokerClient() {
			t.Errorf("%s has a broker-wide client without configuration", p.ID)
		}
		if wantOn := p.Kind == KindOAuth2; p.IsEnabled() != wantOn {
			t.Errorf("%s (%s) enabled=%v, want %v", p.ID, p.Kind, p.IsEnabled(), wantOn)
		}
	}
}

func TestGoogleAsksForOfflineAccess(t *testing.T) {
	g := get(t, resolved(t, map[string]Spec{"google": creds()}), "google")
	if !g.IsEnabled() || !g.HasBrokerClient() {
		t.Fatal("google with a client id and secret is not enabled")
	}
	want := map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}
	for k, v := range want {
		if g.AuthParams[k] != v {
			t.Errorf("authParams[%s] = %q, want %q", k, g.AuthParams[k], v)
		}
	}
	if !g.UsesPKCE() || g.AuthStyle != AuthStyleBody || g.Issuer != "https://accounts.google.com" {
		t.Errorf("pkce=%v authStyle=%q issuer=%q", g.UsesPKCE(), g.AuthStyle, g.Issuer)
	}
	if g.Spec.Inject.Type != InjectBearer || g.ScopeSeparator != " " || g.Events != "google" || g.Quirks != "google" {
		t.Errorf("inject=%v sep=%q events=%q quirks=%q", g.Spec.Inject, g.ScopeSeparator, g.Events, g.Quirks)
	}
}

func TestCalcomQuirks(t *testing.T) {
	c := get(t, resolved(t, map[string]Spec{"calcom": creds()}), "calcom")
	if c.ScopeSeparator != "," {
		t.Errorf("scopeSeparator = %q, want \",\"", c.ScopeSeparator)
	}
	if c.RefreshURL != "https://app.cal.com/api/auth/oauth/refreshToken" {
		t.Errorf("refreshUrl = %q", c.RefreshURL)
	}
	if c.TokenLifetimeD != 30*time.Minute {
		t.Errorf("token lifetime = %v, want 30m", c.TokenLifetimeD)
	}
	if c.Headers["Cal-Api-Version"] == "" { // canonical form, set as is on the hot path
		t.Error("no cal-api-version header")
	}
}

func TestZoomAuthenticatesWithBasic(t *testing.T) {
	z := get(t, resolved(t, map[string]Spec{"zoom": creds()}), "zoom")
	if z.AuthStyle != AuthStyleBasic || !z.Rotates() {
		t.Errorf("authStyle=%q rotates=%v", z.AuthStyle, z.Rotates())
	}
}

func TestMicrosoftTenant(t *testing.T) {
	for _, tc := range []struct{ tenant, want string }{
		{"", "common"},
		{"contoso.onmicrosoft.com", "contoso.onmicrosoft.com"},
		{"0b5d1a2c-9f3e-4c1a-8a2b-123456789abc", "0b5d1a2c-9f3e-4c1a-8a2b-123456789abc"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			o := creds()
			o.Tenant = tc.tenant
			m := get(t, resolved(t, map[string]Spec{"microsoft": o}), "microsoft")
			base := "https://login.microsoftonline.com/" + tc.want
			if m.AuthURL != base+"/oauth2/v2.0/authorize" || m.TokenURL != base+"/oauth2/v2.0/token" {
				t.Errorf("urls: %s %s", m.AuthURL, m.TokenURL)
			}
			if m.Issuer != base+"/v2.0" {
				t.Errorf("issuer = %s", m.Issuer)
			}
			if !m.Rotates() || m.KeepAlive == nil || !*m.KeepAlive {
				t.Error("microsoft must rotate refresh tokens and keep them alive")
			}
		})
	}
}

func TestOverrideMergesFieldByField(t *testing.T) {
	o := creds()
	o.AuthParams = map[string]string{"hd": "example.com", "prompt": ""}
	o.Scopes = []string{"openid", "email"}
	o.Name = "Google Workspace"
	g := get(t, resolved(t, map[string]Spec{"google": o}), "google")
	if g.AuthParams["hd"] != "example.com" || g.AuthParams["access_type"] != "offline" {
		t.Errorf("authParams did not merge key by key: %v", g.AuthParams)
	}
	if _, ok := g.AuthParams["prompt"]; ok {
		t.Errorf("an empty value did not delete the catalog's key: %v", g.AuthParams)
	}
	if !slices.Equal(g.Scopes, []string{"openid", "email"}) {
		t.Errorf("scopes = %v, want the override's list", g.Scopes)
	}
	if g.Name != "Google Workspace" || g.TokenURL != "https://oauth2.googleapis.com/token" {
		t.Errorf("name=%q tokenUrl=%q", g.Name, g.TokenURL)
	}
}

func TestExplicitDisableWins(t *testing.T) {
	o := creds()
	o.Enabled = new(bool)
	if g := get(t, resolved(t, map[string]Spec{"google": o}), "google"); g.IsEnabled() {
		t.Fatal("enabled: false was ignored")
	}
}

func TestNewProviderGetsDefaults(t *testing.T) {
	r := resolved(t, map[string]Spec{"my-booking-system": {
		Kind:         KindOAuth2,
		ClientID:     "id",
		ClientSecret: "secret",
		AuthURL:      "https://booking.example.com/oauth/authorize",
		TokenURL:     "https://booking.example.com/oauth/token",
		APIBaseURL:   "https://api.booking.example.com/v1",
	}})
	p := get(t, r, "my-booking-system")
	if !p.IsEnabled() || p.Name != "my-booking-system" || !p.UsesPKCE() {
		t.Errorf("enabled=%v name=%q pkce=%v", p.IsEnabled(), p.Name, p.UsesPKCE())
	}
	if p.ScopeSeparator != " " || p.AuthStyle != "body" || p.TestMethod != "GET" || p.Spec.Inject.Type != InjectBearer || p.Events != "none" {
		t.Errorf("defaults not applied: %+v", p.Spec)
	}
	if p.TokenLifetimeD != 0 || p.Rotates() {
		t.Errorf("lifetime=%v rotates=%v", p.TokenLifetimeD, p.Rotates())
	}
}

func TestCalDAVNeedsItsServer(t *testing.T) {
	r := resolved(t, map[string]Spec{
		"caldav": {APIBaseURL: "https://caldav.example.com/dav"},
		"icloud": {Kind: KindBasic, APIBaseURL: "https://caldav.icloud.com", Events: "caldav"},
	})
	c := get(t, r, "caldav")
	if !c.IsEnabled() || c.TestURL != "https://caldav.example.com/dav" || c.TestMethod != "PROPFIND" {
		t.Errorf("enabled=%v testUrl=%q method=%q", c.IsEnabled(), c.TestURL, c.TestMethod)
	}
	if c.Spec.Inject.Type != InjectBasic || c.UsesPKCE() {
		t.Errorf("inject=%v pkce=%v", c.Spec.Inject, c.UsesPKCE())
	}
	if i := get(t, r, "icloud"); !i.IsEnabled() || i.Spec.Inject.Type != InjectBasic {
		t.Errorf("icloud: enabled=%v inject=%v", i.IsEnabled(), i.Spec.Inject)
	}
	if a := get(t, r, "apikey"); a.IsEnabled() {
		t.Error("apikey is enabled without an apiBaseUrl")
	}
}

func TestLoopbackHTTPNeedsTheOption(t *testing.T) {
	o := map[string]Spec{"local": {
		Kind: KindOAuth2, ClientID: "id", ClientSecret: "s",
		AuthURL: "http://127.0.0.1:9999/authorize", TokenURL: "http://localhost:9999/token",
		APIBaseURL: "http://[::1]:9999/api",
	}}
	if _, errs := Resolve(o, withRooms(ResolveOptions{AllowInsecureLoopback: true})); len(errs) > 0 {
		t.Fatalf("loopback http refused with the option: %v", errs)
	}
	_, errs := Resolve(o, withRooms(ResolveOptions{}))
	if len(errs) != 3 {
		t.Fatalf("want 3 errors without the option, got %v", errs)
	}
}
