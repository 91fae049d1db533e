package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/providertest"
)

// realEnv is the proxy on the real token manager, SQLite store and a fake
// provider speaking its wire format.
type realEnv struct {
	fake  *providertest.Server
	m     *tokens.Manager
	appID string
	conn  model.Connection
	front *httptest.Server
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRealEnv(t testing.TB, fo providertest.Options) *realEnv {
	return newRealEnvAPI(t, fo, "")
}

// newRealEnvAPI is newRealEnv with the provider's API base URL replaced
// (when apiBase is set), e.g. by a minimal upstream for benchmarks.
func newRealEnvAPI(t testing.TB, fo providertest.Options, apiBase string) *realEnv {
	t.Helper()
	ctx := context.Background()
	fake := providertest.New(t, fo)
	p := fake.Provider(t)
	if apiBase != "" {
		p.APIBaseURL = apiBase
	}
	st, err := sqlite.Open(ctx, sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, secrets.KeySize)
	keys, err := secrets.NewKeyRing(secrets.Key{ID: "k1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	m, err := tokens.New(tokens.Options{Store: st, Keys: keys, Providers: providers.NewRegistry(p),
		HTTPClient: providers.NewHTTPClient(5 * time.Second), RetryDelays: []time.Duration{}, Logger: quiet(),
		CacheSize: d.Cache.Tokens, ExpiryMargin: d.Cache.ExpiryMargin.D(), LeaseTTL: d.Refresh.LeaseTTL.D()})
	if err != nil {
		t.Fatal(err)
	}
	e := &realEnv{fake: fake, m: m, appID: model.NewID(model.PrefixApp)}
	now := time.Now()
	for _, id := range []string{e.appID, "app_other"} {
		if err := st.CreateApp(ctx, model.App{ID: id, Name: id, Permissions: model.AllPermissions,
			SecretHash: []byte("x"), CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	e.conn, _, err = m.Save(ctx, model.Connection{AppID: e.appID, ProviderID: p.ID, ScheduleID: "s1",
		AccountID: fake.AccountID(""), ClientSource: model.ClientBroker}, fake.Mint(""))
	if err != nil {
		t.Fatal(err)
	}
	e.front = front(t, mustNew(t, Options{Creds: m, Logger: quiet()}), e.appID)
	return e
}

func (e *realEnv) get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(e.front.URL + "/proxy/" + e.conn.ID + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWithTokenManager(t *testing.T) {
	t.Run("proxied with the connection's token, cookie dropped", func(t *testing.T) {
		e := newRealEnv(t, providertest.Options{Wire: googletest.Wire{}, TokenLifetime: time.Hour})
		resp, body := e.get(t, "/users/me/calendarList?maxResults=5")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var echo providertest.Echo
		if err := json.Unmarshal([]byte(body), &echo); err != nil {
			t.Fatal(err)
		}
		if echo.User != providertest.DefaultUser || echo.Path != "/api/users/me/calendarList" || echo.RawQuery != "maxResults=5" {
			t.Fatalf("echo %+v", echo)
		}
		if len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("Set-Cookie came back: %v", resp.Header.Values("Set-Cookie"))
		}
	})
	t.Run("Cal.com static header", func(t *testing.T) {
		e := newRealEnv(t, providertest.Options{Wire: calcomtest.Wire{}})
		resp, body := e.get(t, "/bookings")
		var echo providertest.Echo
		_ = json.Unmarshal([]byte(body), &echo)
		if resp.StatusCode != http.StatusOK || len(echo.Headers["Cal-Api-Version"]) != 1 || echo.Headers["Cal-Api-Version"][0] != calcomtest.APIVersion {
			t.Fatalf("status %d, headers %v", resp.StatusCode, echo.Headers)
		}
	})
	t.Run("foreign connection is 404", func(t *testing.T) {
		e := newRealEnv(t, providertest.Options{TokenLifetime: time.Hour})
		other := front(t, mustNew(t, Options{Creds: e.m, Logger: quiet()}), "app_other")
		resp, body := rawDo(t, other, "GET", "/proxy/"+e.conn.ID+"/me")
		wantBrokerError(t, resp, body, model.CodeNotFound)
		if e.fake.APICalls() != 0 {
			t.Fatalf("the provider was called")
		}
	})
	t.Run("401 refreshes once and retries", func(t *testing.T) {
		e := newRealEnv(t, providertest.Options{TokenLifetime: time.Hour})
		e.get(t, "/me") // warm the cache
		e.fake.ExpireAccessTokens()
		resp, body := e.get(t, "/me")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if n := e.fake.RefreshCalls(); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		if n := e.fake.APICalls(); n != 3 {
			t.Fatalf("%d API calls, want 3 (warm, 401, retry)", n)
		}
	})
	t.Run("refresh refused: needs_reauth", func(t *testing.T) {
		e := newRealEnv(t, providertest.Options{TokenLifetime: time.Hour})
		e.fake.ExpireAccessTokens()
		e.fake.FailNextRefresh("invalid_grant")
		// The forced refresh after the provider's 401 fails for good: the
		// caller hears so at once, and so does the next one.
		resp, body := e.get(t, "/me")
		wantBrokerError(t, resp, body, model.CodeNeedsReauth)
		resp, body = e.get(t, "/me")
		wantBrokerError(t, resp, body, model.CodeNeedsReauth)
	})
	t.Run("concurrent callers on an expired token: one refresh", func(t *testing.T) {
		e := newRealEnv(t, providertest.Options{TokenLifetime: time.Hour})
		tok := e.fake.Mint("")
		tok.Expiry = time.Now().Add(-time.Minute) // live at the provider, expired for the broker
		var err error
		if e.conn, _, err = e.m.Save(context.Background(), e.conn, tok); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		codes := make(chan int, 50)
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(e.front.URL + "/proxy/" + e.conn.ID + "/me")
				if err != nil {
					codes <- 0
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != http.StatusOK {
				t.Fatalf("a caller got %d", c)
			}
		}
		if n := e.fake.RefreshCalls(); n != 1 {
			t.Fatalf("%d refreshes for 50 callers, want 1", n)
		}
	})
}
