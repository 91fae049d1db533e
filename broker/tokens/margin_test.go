package tokens

import (
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
)

// cache.expiryMargin is taken as given, zero included: with 0s a token 30s
// from expiry is used as it is and only an expired one is refreshed; with
// the documented 60s it is refreshed first. (0s used to become 2 minutes.)
func TestExpiryMarginMeansWhatItSays(t *testing.T) {
	for _, tc := range []struct {
		margin    time.Duration
		expiresIn time.Duration
		refreshes int
	}{
		{0, 30 * time.Second, 0},
		{0, -time.Second, 1},
		{config.DefaultExpiryMargin, 30 * time.Second, 1},
		{config.DefaultExpiryMargin, 90 * time.Second, 0},
	} {
		t.Run(tc.margin.String()+"/"+tc.expiresIn.String(), func(t *testing.T) {
			e := newEnv(t, envOpts{options: func(o *Options) { o.ExpiryMargin = tc.margin }})
			if got := e.m.Options().ExpiryMargin; got != tc.margin {
				t.Fatalf("ExpiryMargin became %s", got)
			}
			tok := e.fake.Mint("")
			tok.Expiry = e.clk.Now().Add(tc.expiresIn)
			c := e.connect(t, tok)
			cred, err := e.m.Get(bg(), e.appID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := e.fake.RefreshCalls(); n != tc.refreshes {
				t.Fatalf("%d refreshes, want %d", n, tc.refreshes)
			}
			if (cred.Token.AccessToken == tok.AccessToken) != (tc.refreshes == 0) {
				t.Fatalf("handed out the old token: %v, want %v", cred.Token.AccessToken == tok.AccessToken, tc.refreshes == 0)
			}
		})
	}
}

// New refuses options that cannot work instead of replacing them.
func TestNewRefusesBadOptions(t *testing.T) {
	e := newEnv(t, envOpts{})
	for name, edit := range map[string]func(*Options){
		"no http client":  func(o *Options) { o.HTTPClient = nil },
		"no store":        func(o *Options) { o.Store = nil },
		"zero cache":      func(o *Options) { o.CacheSize = 0 },
		"negative margin": func(o *Options) { o.ExpiryMargin = -time.Second },
		"zero lease":      func(o *Options) { o.LeaseTTL = 0 },
	} {
		o := e.m.Options()
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
