package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom/zoomtest"
)

// getAll runs n concurrent Gets and returns the access tokens they got.
func getAll(t *testing.T, m *Manager, appID, connID string, n int) []string {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cred, err := m.Get(bg(), appID, connID)
			if err != nil {
				errs[i] = err
				return
			}
			got[i] = cred.Token.AccessToken
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	return got
}

func TestConcurrentGetsOnExpiredTokenRefreshOnce(t *testing.T) {
	e := newEnv(t, envOpts{})
	old := e.expiredToken()
	c := e.connect(t, old)

	got := getAll(t, e.m, e.appID, c.ID, 500)

	if n := e.fake.RefreshCalls(); n != 1 {
		t.Fatalf("token endpoint refreshes = %d, want exactly 1", n)
	}
	for i, at := range got {
		if at != got[0] || at == old.AccessToken {
			t.Fatalf("Get %d got a different or stale token", i)
		}
	}
	if !e.fake.AccessTokenValid(got[0]) {
		t.Fatal("the provider does not accept the token handed out")
	}
	sc, stok := e.stored(t, c.ID)
	if stok.AccessToken != got[0] || stok.RefreshToken != old.RefreshToken {
		t.Fatal("the refreshed token was not stored (or the refresh token was lost)")
	}
	if sc.LastRefreshedAt.IsZero() || !sc.TokenExpiry.Equal(stok.Expiry) {
		t.Fatalf("LastRefreshedAt/TokenExpiry not updated: %v %v", sc.LastRefreshedAt, sc.TokenExpiry)
	}
}

func TestTwoReplicasOnOneDatabaseRefreshOnce(t *testing.T) {
	e := newEnv(t, envOpts{file: true})
	c := e.connect(t, e.expiredToken())
	// A second store on the same file and a second Manager: another replica
	// with its own cache, singleflight and lease holder.
	st2 := openStore(t, e.path)
	m2 := e.manager(t, st2, nil)
	if e.m.Holder() == m2.Holder() {
		t.Fatal("replicas share a lease holder name")
	}

	var wg sync.WaitGroup
	var a, b []string
	wg.Go(func() { a = getAll(t, e.m, e.appID, c.ID, 100) })
	wg.Go(func() { b = getAll(t, m2, e.appID, c.ID, 100) })
	wg.Wait()

	if n := e.fake.RefreshCalls(); n != 1 {
		t.Fatalf("token endpoint refreshes across two replicas = %d, want exactly 1", n)
	}
	for _, at := range append(a, b...) {
		if at != a[0] {
			t.Fatal("replicas handed out different tokens")
		}
	}
}

func TestDeadReplicaLeaseExpiresAndRefreshCompletes(t *testing.T) {
	e := newEnv(t, envOpts{options: func(o *Options) {
		o.LeaseTTL, o.RefreshTimeout = 200*time.Millisecond, time.Minute
	}})
	c := e.connect(t, e.expiredToken())
	// A replica took the lease and was killed before refreshing.
	ok, err := e.st.AcquireLease(bg(), "refresh:"+c.ID, "killed-replica", 200*time.Millisecond, time.Now())
	if err != nil || !ok {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
	cred, err := e.m.Get(bg(), e.appID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.fake.RefreshCalls() != 1 || !e.fake.AccessTokenValid(cred.Token.AccessToken) {
		t.Fatal("refresh did not complete after the dead holder's lease expired")
	}
}

func TestRotatingRefreshTokensStayValid(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{Wire: zoomtest.Wire{}, RotateRefreshTokens: true}})
	first := e.fake.Mint("")
	c := e.connect(t, first)
	seen := map[string]bool{first.RefreshToken: true}
	for i := range 20 {
		e.clk.Advance(2 * time.Hour) // every token is now past its expiry
		cred, err := e.m.Get(bg(), e.appID, c.ID)
		if err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
		_, stok := e.stored(t, c.ID)
		if stok.AccessToken != cred.Token.AccessToken || seen[stok.RefreshToken] {
			t.Fatalf("refresh %d: rotated refresh token not stored", i+1)
		}
		seen[stok.RefreshToken] = true
	}
	if n := e.fake.RefreshCalls(); n != 20 {
		t.Fatalf("refreshes = %d, want 20", n)
	}
	e.clk.Advance(2 * time.Hour)
	if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil {
		t.Fatalf("the grant died after 20 rotations: %v", err)
	}
}

func TestInvalidGrantMarksNeedsReauth(t *testing.T) {
	for _, q := range []providertest.Wire{providertest.Standard{}, googletest.Wire{}, microsofttest.Wire{}, zoomtest.Wire{}, calcomtest.Wire{}} {
		t.Run("fake="+q.Name(), func(t *testing.T) {
			e := newEnv(t, envOpts{fake: providertest.Options{Wire: q}})
			old := e.expiredToken()
			c := e.connect(t, old)
			e.fake.FailNextRefresh("invalid_grant")

			_, err := e.m.Get(bg(), e.appID, c.ID)
			if !errors.Is(err, model.ErrNeedsReauth) || model.HTTPStatus(model.CodeOf(err)) != http.StatusConflict {
				t.Fatalf("Get = %v, want needs_reauth (409)", err)
			}
			sc, stok := e.stored(t, c.ID)
			if sc.Status != model.StatusNeedsReauth || sc.LastError != LastErrorInvalidGrant {
				t.Fatalf("status %s lastError %q", sc.Status, sc.LastError)
			}
			if stok.RefreshToken != old.RefreshToken {
				t.Fatal("the stored refresh token was wiped")
			}
			evs := e.events(t, model.EventConnectionNeedsReauth)
			if len(evs) != 1 {
				t.Fatalf("needs_reauth outbox entries = %d, want 1", len(evs))
			}
			var p model.WebhookBody
			if err := json.Unmarshal(evs[0].Payload, &p); err != nil {
				t.Fatal(err)
			}
			if cj := p.Data.Connection; p.Type != model.EventConnectionNeedsReauth || cj == nil || cj.ID != c.ID ||
				cj.ProviderID != e.p.ID || cj.ScheduleID != "sched-1" || cj.Status != string(model.StatusNeedsReauth) ||
				evs[0].ConnectionID != c.ID || evs[0].AppID != e.appID {
				t.Fatalf("event %+v, body %s", evs[0], evs[0].Payload)
			}
			// Later calls answer from the stored status, without the provider.
			if _, err := e.m.Get(bg(), e.appID, c.ID); !errors.Is(err, model.ErrNeedsReauth) {
				t.Fatalf("second Get = %v", err)
			}
			if n := e.fake.RefreshCalls(); n != 1 {
				t.Fatalf("refreshes = %d, want 1", n)
			}
		})
	}
}

func TestTransientFailures(t *testing.T) {
	t.Run("expired token: retries then upstream_unavailable", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		old := e.expiredToken()
		c := e.connect(t, old)
		e.fake.FailRefreshes(http.StatusServiceUnavailable, 3)

		_, err := e.m.Get(bg(), e.appID, c.ID)
		if !errors.Is(err, model.ErrUpstreamUnavailable) || model.HTTPStatus(model.CodeOf(err)) != http.StatusBadGateway {
			t.Fatalf("Get = %v, want upstream_unavailable (502)", err)
		}
		if n := e.fake.RefreshCalls(); n != 3 {
			t.Fatalf("attempts = %d, want 3", n)
		}
		sc, stok := e.stored(t, c.ID)
		if sc.Status != model.StatusConnected || stok.RefreshToken != old.RefreshToken || stok.AccessToken != old.AccessToken {
			t.Fatal("a transient failure changed the stored connection")
		}
		if len(e.events(t, model.EventConnectionNeedsReauth)) != 0 {
			t.Fatal("a transient failure wrote needs_reauth")
		}
		cred, err := e.m.Get(bg(), e.appID, c.ID)
		if err != nil || cred.Token.AccessToken == old.AccessToken {
			t.Fatalf("the provider is back but Get = %v", err)
		}
	})
	t.Run("recovers within the retries", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		c := e.connect(t, e.expiredToken())
		e.fake.FailRefreshes(http.StatusTooManyRequests, 1)
		e.fake.FailRefreshes(http.StatusBadGateway, 1)
		if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil {
			t.Fatal(err)
		}
		if n := e.fake.RefreshCalls(); n != 3 {
			t.Fatalf("attempts = %d, want 3", n)
		}
	})
	t.Run("token within the margin but not expired is still served", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		tok := e.fake.Mint("")
		tok.Expiry = e.clk.Now().Add(30 * time.Second) // inside the 2 min margin
		c := e.connect(t, tok)
		e.fake.FailRefreshes(http.StatusServiceUnavailable, 3)
		cred, err := e.m.Get(bg(), e.appID, c.ID)
		if err != nil || cred.Token.AccessToken != tok.AccessToken {
			t.Fatalf("Get = %v", err)
		}
	})
}

func TestCallerGivingUpDoesNotAbortRefresh(t *testing.T) {
	g := newGate("/token")
	e := newEnv(t, envOpts{options: func(o *Options) { o.HTTPClient = &http.Client{Transport: g} }})
	c := e.connect(t, e.expiredToken())

	ctx, cancel := context.WithCancel(bg())
	done := make(chan error, 1)
	go func() {
		_, err := e.m.Get(ctx, e.appID, c.ID)
		done <- err
	}()
	<-g.arrived // the refresh is on the wire
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(g.open)

	// A later caller joins or finds the refresh the first one started.
	cred, err := e.m.Get(bg(), e.appID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.fake.RefreshCalls(); n != 1 {
		t.Fatalf("refreshes = %d, want 1", n)
	}
	if _, stok := e.stored(t, c.ID); stok.AccessToken != cred.Token.AccessToken {
		t.Fatal("the refresh was not persisted")
	}
}

func TestForceRefresh(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.fake.Mint("")
	c := e.connect(t, tok)
	e.fake.Invalidate(tok.AccessToken) // the API now answers 401 to it

	cred, err := e.m.ForceRefresh(bg(), e.appID, c.ID, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Token.AccessToken == tok.AccessToken || !e.fake.AccessTokenValid(cred.Token.AccessToken) {
		t.Fatal("ForceRefresh did not produce a working token")
	}
	// A second request that also saw the old token gets the new one, no call.
	again, err := e.m.ForceRefresh(bg(), e.appID, c.ID, tok.AccessToken)
	if err != nil || again.Token.AccessToken != cred.Token.AccessToken {
		t.Fatalf("second ForceRefresh = %v", err)
	}
	if n := e.fake.RefreshCalls(); n != 1 {
		t.Fatalf("refreshes = %d, want 1", n)
	}
	if _, err := e.m.ForceRefresh(bg(), "app_other", c.ID, cred.Token.AccessToken); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("foreign ForceRefresh = %v", err)
	}
}

func TestCalcomRefreshURLAndMissingExpiresIn(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{Wire: calcomtest.Wire{}}})
	old := e.expiredToken()
	c := e.connect(t, old)
	before := time.Now()
	cred, err := e.m.Get(bg(), e.appID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.fake.RefreshCalls() != 1 || !e.fake.AccessTokenValid(cred.Token.AccessToken) {
		t.Fatal("refresh at Cal.com's refresh URL did not happen")
	}
	// No expires_in: the catalog's 30m lifetime is assumed.
	if exp := cred.Token.Expiry; exp.Before(before.Add(25*time.Minute)) || exp.After(time.Now().Add(31*time.Minute)) {
		t.Fatalf("expiry %v, want about 30m from now", exp)
	}
	if _, stok := e.stored(t, c.ID); stok.RefreshToken != old.RefreshToken {
		t.Fatal("the refresh token was not kept when the response had none")
	}
}

func TestAppsOwnClientIsUsedForRefresh(t *testing.T) {
	// The fake accepts only the app's client; the broker-wide one is wrong.
	e := newEnv(t, envOpts{fake: providertest.Options{ClientID: "apps-own", ClientSecret: "apps-own-secret"}})
	e.p.ClientID, e.p.ClientSecret = "broker-wide", "broker-wide-secret"
	ct, err := e.keys.Encrypt([]byte("apps-own-secret"), model.AppProviderAAD(e.appID, e.p.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutAppProvider(bg(), model.AppProvider{AppID: e.appID, ProviderID: e.p.ID, ClientID: "apps-own",
		ClientSecret: ct, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	client, src, err := e.m.PickClient(bg(), e.appID, e.p)
	if err != nil || src != model.ClientApp || client.ID != "apps-own" || client.Secret != "apps-own-secret" {
		t.Fatalf("PickClient = %v %v %v", client.ID, src, err)
	}
	c, _, err := e.m.Save(bg(), model.Connection{AppID: e.appID, ProviderID: e.p.ID, ScheduleID: "s",
		AccountID: "acc", ClientSource: src}, e.expiredToken())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil {
		t.Fatalf("refresh with the app's own client: %v", err)
	}
}

// appProviderDown is the real store whose app-provider reads fail as an
// unreachable database does.
type appProviderDown struct{ store.Store }

func (appProviderDown) GetAppProvider(context.Context, string, string) (model.AppProvider, error) {
	return model.AppProvider{}, fmt.Errorf("store: get app provider: %w", model.ErrUnavailable)
}

func TestRefreshClientLookupErrorsKeepTheirCode(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{ClientID: "apps-own", ClientSecret: "apps-own-secret"}})
	ct, err := e.keys.Encrypt([]byte("apps-own-secret"), model.AppProviderAAD(e.appID, e.p.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutAppProvider(bg(), model.AppProvider{AppID: e.appID, ProviderID: e.p.ID, ClientID: "apps-own",
		ClientSecret: ct, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.m.Save(bg(), model.Connection{AppID: e.appID, ProviderID: e.p.ID, ScheduleID: "s",
		AccountID: "acc", ClientSource: model.ClientApp}, e.expiredToken())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("store unavailable is 503, not a missing client", func(t *testing.T) {
		m := e.manager(t, appProviderDown{e.st}, nil)
		_, err := m.Get(bg(), e.appID, c.ID)
		if code := model.CodeOf(err); code != model.CodeUnavailable {
			t.Fatalf("Get with the store down = %v (code %s), want unavailable", err, code)
		}
	})
	t.Run("client removed is a conflict", func(t *testing.T) {
		if err := e.st.DeleteAppProvider(bg(), e.appID, e.p.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.m.Get(bg(), e.appID, c.ID)
		if code := model.CodeOf(err); code != model.CodeConflict {
			t.Fatalf("Get with the app's client removed = %v (code %s), want conflict", err, code)
		}
	})
}
