package connect

import (
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// newService is New with real dependencies for the ones o leaves out: an
// in-memory SQLite store, a token manager on it with broker.yaml's defaults,
// no providers, a state signer and the providers' HTTP client.
func newService(t testing.TB, o Options) *Service {
	t.Helper()
	if o.Store == nil {
		st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		o.Store = st
	}
	if o.Providers == nil {
		o.Providers = providers.NewRegistry()
	}
	d := config.Default()
	if o.HTTPClient == nil {
		o.HTTPClient = providers.NewHTTPClient(d.Proxy.Timeout.D())
	}
	if o.Tokens == nil {
		keys, err := secrets.NewKeyRing(secrets.Key{ID: "e1", Key: make([]byte, secrets.KeySize)})
		if err != nil {
			t.Fatal(err)
		}
		o.Tokens, err = tokens.New(tokens.Options{Store: o.Store, Keys: keys, Providers: o.Providers, HTTPClient: o.HTTPClient,
			CacheSize: d.Cache.Tokens, ExpiryMargin: d.Cache.ExpiryMargin.D(), LeaseTTL: d.Refresh.LeaseTTL.D()})
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.State == nil {
		var err error
		o.State, err = state.NewSigner(state.Options{Keys: []state.Key{{ID: "s1", Secret: []byte(strings.Repeat("k", 32))}},
			Issuer: o.PublicURL, Audience: o.PublicURL + "/oauth/callback"})
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// New refuses a Service it cannot run: a missing dependency or a public URL
// the callback cannot be built on.
func TestNewRefusesMissingDependencies(t *testing.T) {
	ok := newService(t, Options{PublicURL: "https://broker.example.com"}).Options()
	for name, edit := range map[string]func(*Options){
		"no store":         func(o *Options) { o.Store = nil },
		"no tokens":        func(o *Options) { o.Tokens = nil },
		"no providers":     func(o *Options) { o.Providers = nil },
		"no state signer":  func(o *Options) { o.State = nil },
		"no http client":   func(o *Options) { o.HTTPClient = nil },
		"relative url":     func(o *Options) { o.PublicURL = "/broker" },
		"no url":           func(o *Options) { o.PublicURL = "" },
		"negative pending": func(o *Options) { o.MaxPendingSessions = -1 },
	} {
		o := ok
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
