package tokens

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
)

func TestCacheHitDoesNoStoreRead(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.connect(t, e.fake.Mint(""))
	e.st.reads.Store(0)
	for range 100 {
		if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.st.reads.Load(); n != 1 {
		t.Fatalf("store reads for 100 Gets = %d, want 1 (the first miss)", n)
	}
}

func TestForeignOrMissingConnectionIsNotFound(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.connect(t, e.fake.Mint(""))
	tests := []struct {
		name, app, conn string
		warm            bool
	}{
		{"foreign app, cold cache", "app_other", c.ID, false},
		{"foreign app, warm cache", "app_other", c.ID, true},
		{"missing connection", e.appID, "con_missing", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.m.PurgeAll()
			if tt.warm {
				if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil {
					t.Fatal(err)
				}
			}
			_, err := e.m.Get(bg(), tt.app, tt.conn)
			if !errors.Is(err, model.ErrNotFound) || model.HTTPStatus(model.CodeOf(err)) != http.StatusNotFound {
				t.Fatalf("Get = %v, want not_found (404)", err)
			}
		})
	}
	if _, err := e.m.Disconnect(bg(), "app_other", c.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("foreign Disconnect = %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{Wire: googletest.Wire{}}})
	tok := e.fake.Mint("")
	c := e.connect(t, tok)
	if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil || e.m.Len() != 1 {
		t.Fatalf("warm-up Get = %v, cached %d", err, e.m.Len())
	}

	d, err := e.m.Disconnect(bg(), e.appID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != model.StatusDisconnected || len(d.Credentials) != 0 {
		t.Fatal("connection not disconnected and wiped")
	}
	if e.m.Len() != 0 {
		t.Fatal("cache not purged on disconnect")
	}
	if !e.fake.Revoked(tok.RefreshToken) && !e.fake.Revoked(tok.AccessToken) {
		t.Fatal("grant not revoked at the provider")
	}
	if sc, _ := e.stored(t, c.ID); len(sc.Credentials) != 0 || sc.Status != model.StatusDisconnected {
		t.Fatal("stored credentials not wiped")
	}
	_, err = e.m.Get(bg(), e.appID, c.ID)
	if !errors.Is(err, ErrDisconnected) || model.CodeOf(err) != model.CodeConflict {
		t.Fatalf("Get after disconnect = %v, want ErrDisconnected (409)", err)
	}
	if len(e.events(t, model.EventConnectionDisconnect)) != 1 {
		t.Fatal("no connection.disconnected outbox entry")
	}
	// Idempotent: no second event.
	if _, err := e.m.Disconnect(bg(), e.appID, c.ID); err != nil {
		t.Fatal(err)
	}
	if len(e.events(t, model.EventConnectionDisconnect)) != 1 {
		t.Fatal("second disconnect wrote another event")
	}
}

func TestDisconnectSurvivesRevokeFailure(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.connect(t, e.fake.Mint(""))
	e.fake.Close() // the provider is gone
	d, err := e.m.Disconnect(bg(), e.appID, c.ID)
	if err != nil || d.Status != model.StatusDisconnected {
		t.Fatalf("Disconnect with the provider down = %v", err)
	}
}

func TestSaveEventsAndReconnect(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.connect(t, e.expiredToken())
	if len(e.events(t, model.EventConnectionCreated)) != 1 {
		t.Fatal("no connection.created")
	}
	e.fake.FailNextRefresh("invalid_grant")
	if _, err := e.m.Get(bg(), e.appID, c.ID); !errors.Is(err, model.ErrNeedsReauth) {
		t.Fatalf("Get = %v", err)
	}

	// The user authorizes the same account again.
	fresh := e.fake.Mint("")
	again, created, err := e.m.Save(bg(), model.Connection{AppID: e.appID, ProviderID: e.p.ID, ScheduleID: "sched-1",
		AccountID: e.fake.AccountID(""), ClientSource: model.ClientBroker}, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if created || again.ID != c.ID || again.Status != model.StatusConnected {
		t.Fatalf("reconnect created=%v id=%s status=%s", created, again.ID, again.Status)
	}
	if len(e.events(t, model.EventConnectionReconnected)) != 1 {
		t.Fatal("no connection.reconnected")
	}
	cred, err := e.m.Get(bg(), e.appID, c.ID)
	if err != nil || cred.Token.AccessToken != fresh.AccessToken {
		t.Fatalf("Get after reconnect = %v", err)
	}
}

func TestInvalidate(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := e.connect(t, e.fake.Mint(""))
	for _, tt := range []struct {
		name string
		ch   store.Change
	}{
		{"connection change", store.Change{Kind: store.ChangeConnection, ID: c.ID}},
		{"app change", store.Change{Kind: store.ChangeApp, ID: e.appID}},
		{"resync", store.Change{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil || e.m.Len() != 1 {
				t.Fatalf("Get = %v", err)
			}
			e.m.Invalidate(tt.ch)
			if e.m.Len() != 0 {
				t.Fatal("entry not purged")
			}
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	e := newEnv(t, envOpts{options: func(o *Options) { o.CacheSize = 3 }})
	for i := range 5 {
		c := e.connectAs(t, "user"+string(rune('a'+i))+"@example.com", e.fake.Mint(""))
		if _, err := e.m.Get(bg(), e.appID, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if e.m.Len() != 3 {
		t.Fatalf("cache holds %d entries, bound is 3", e.m.Len())
	}
}

func TestKeepAlive(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{Wire: microsofttest.Wire{}}})
	e.clk.Set(-60 * 24 * time.Hour) // saved 60 days ago, never used since
	idleTok := e.fake.Mint("idle@example.com")
	idle := e.connectAs(t, "idle@example.com", idleTok)
	e.clk.Set(0)
	freshTok := e.fake.Mint("fresh@example.com")
	fresh := e.connectAs(t, "fresh@example.com", freshTok)

	if n := e.m.keepAlivePass(bg(), 30*24*time.Hour, 0); n != 1 {
		t.Fatalf("keep-alive went through %d connections, want 1", n)
	}
	if n := e.fake.RefreshCalls(); n != 1 {
		t.Fatalf("refreshes = %d, want 1", n)
	}
	sc, stok := e.stored(t, idle.ID)
	if stok.AccessToken == idleTok.AccessToken || sc.LastRefreshedAt.Before(time.Now().Add(-time.Minute)) {
		t.Fatal("the idle connection was not refreshed")
	}
	if _, ftok := e.stored(t, fresh.ID); ftok.AccessToken != freshTok.AccessToken {
		t.Fatal("the fresh connection was refreshed")
	}
	// A second pass finds nothing idle.
	if n := e.m.keepAlivePass(bg(), 30*24*time.Hour, 0); n != 0 || e.fake.RefreshCalls() != 1 {
		t.Fatalf("second pass refreshed again (%d)", n)
	}
}

func BenchmarkGetHit(b *testing.B) {
	e := newEnv(b, envOpts{})
	c := e.connect(b, e.fake.Mint(""))
	ctx := bg()
	if _, err := e.m.Get(ctx, e.appID, c.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.m.Get(ctx, e.appID, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	e := newEnv(b, envOpts{})
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = e.connectAs(b, "u"+model.RandomToken(4)+"@example.com", e.fake.Mint("")).ID
		if _, err := e.m.Get(bg(), e.appID, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx, i := bg(), 0
		for pb.Next() {
			if _, err := e.m.Get(ctx, e.appID, ids[i%len(ids)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func TestExpiredWithoutRefreshTokenNeedsReauth(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.expiredToken()
	tok.RefreshToken = ""
	c := e.connect(t, tok)
	if _, err := e.m.Get(bg(), e.appID, c.ID); !errors.Is(err, model.ErrNeedsReauth) {
		t.Fatalf("Get = %v, want needs_reauth", err)
	}
	if sc, _ := e.stored(t, c.ID); sc.Status != model.StatusNeedsReauth || sc.LastError != LastErrorNoRefreshToken {
		t.Fatalf("status %s lastError %q", sc.Status, sc.LastError)
	}
	if e.fake.RefreshCalls() != 0 {
		t.Fatal("the token endpoint was called without a refresh token")
	}
}

func TestCredentialsEncryptedAtRest(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.fake.Mint("")
	c := e.connect(t, tok)
	sc, _ := e.stored(t, c.ID)
	for _, s := range []string{tok.AccessToken, tok.RefreshToken} {
		if bytes.Contains(sc.Credentials, []byte(s)) {
			t.Fatal("a token is stored in clear")
		}
	}
	// Bound to the connection id: copied to another row it does not decrypt.
	sc.ID = "con_other"
	if _, err := e.m.Token(bg(), sc); err == nil {
		t.Fatal("credential decrypted under another connection id")
	}
}

// Google sends a refresh token only on the first consent: connecting the
// same account again without one must keep the grant the broker holds, or
// the connection dies at the next expiry.
func TestReconnectWithoutRefreshTokenKeepsTheOldOne(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{Wire: googletest.Wire{}}})
	first := e.fake.Mint("")
	c := e.connect(t, first)
	second := e.fake.Mint("")
	second.RefreshToken = ""
	again := e.connect(t, second)
	if again.ID != c.ID {
		t.Fatalf("reconnect made a new connection %s", again.ID)
	}
	_, tok := e.stored(t, c.ID)
	if tok.AccessToken != second.AccessToken || tok.RefreshToken != first.RefreshToken {
		t.Fatalf("after reconnect: access new=%v, refresh kept=%v", tok.AccessToken == second.AccessToken, tok.RefreshToken == first.RefreshToken)
	}
}
