package tokens

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// forceGate holds the first POST (the token request) until released.
type forceGate struct {
	base    http.RoundTripper
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *forceGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.entered)
			<-g.release
		}
	}
	return g.base.RoundTrip(r)
}

// TestRejectedDuringARunningForcedRefreshWaitsForIt: two calls rejected
// with the same token at once (two proxied requests, two calendars of one
// listing). The first forces a refresh; the second, inside the cooldown,
// waits for that refresh and gets its token, instead of being handed the
// rejected one back (which would end its retry as needs_reauth).
func TestRejectedDuringARunningForcedRefreshWaitsForIt(t *testing.T) {
	g := &forceGate{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, envOpts{options: func(o *Options) {
		o.RejectedCooldown = time.Minute
		c := *o.HTTPClient
		g.base = c.Transport
		if g.base == nil {
			g.base = http.DefaultTransport
		}
		c.Transport = g
		o.HTTPClient = &c
	}})
	tok := e.fake.Mint("")
	c := e.connect(t, tok)
	e.fake.Invalidate(tok.AccessToken)

	type result struct {
		cred *Credential
		err  error
	}
	first, second := make(chan result, 1), make(chan result, 1)
	go func() {
		cred, err := e.m.ForceRefresh(bg(), e.appID, c.ID, tok.AccessToken)
		first <- result{cred, err}
	}()
	<-g.entered // the first one's token request is at the provider
	go func() {
		cred, err := e.m.ForceRefresh(bg(), e.appID, c.ID, tok.AccessToken)
		second <- result{cred, err}
	}()
	time.Sleep(50 * time.Millisecond) // let the second one reach the cooldown check
	close(g.release)
	a, b := <-first, <-second
	if a.err != nil || b.err != nil {
		t.Fatalf("errors: %v, %v", a.err, b.err)
	}
	if b.cred.Token.AccessToken == tok.AccessToken || b.cred.Token.AccessToken != a.cred.Token.AccessToken {
		t.Fatal("the second caller was handed the rejected token, not the refreshed one")
	}
	if n := e.fake.RefreshCalls(); n != 1 {
		t.Fatalf("refreshes = %d, want 1", n)
	}
}
