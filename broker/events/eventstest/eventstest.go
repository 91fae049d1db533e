package eventstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/api"
	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/proxy"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/docs/openapitest"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/google"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/providertest"
)

// Options shape a bench.
type Options struct {
	Accounts    int           // Google accounts, one provider each; default 1
	CallTimeout time.Duration // events.Options.CallTimeout; 0: the broker's (events.DefaultCallTimeout)
	PerAccount  int           // events.Options.PerAccount; 0: the broker's (events.DefaultPerAccount)
	// NoHTTP skips the router (benchmarks of the service alone).
	NoHTTP bool
}

// Account is one Google account: the provider id the broker knows it by,
// its OAuth fake (tokens, refreshes) and its Calendar v3 fake.
type Account struct {
	ProviderID string
	OAuth      *providertest.Server
	Calendar   *googletest.Calendar
}

// Bench is one broker's calendar layer on fakes.
type Bench struct {
	Store    *sqlite.Store
	Tokens   *tokens.Manager
	Service  *events.Service
	Accounts []Account
	URL      string // the router's base URL ("" with NoHTTP)
	clock    atomic.Int64
	apps     *apps.Service
}

// App is an app's id and API secret.
type App struct{ ID, Secret string }

// Now is the broker's clock: real time moved by Advance.
func (b *Bench) Now() time.Time { return time.Now().Add(time.Duration(b.clock.Load())) }

// Advance moves the broker's clock (tokens it holds expire in its eyes).
func (b *Bench) Advance(d time.Duration) { b.clock.Add(int64(d)) }

// New starts a bench, torn down when the test ends.
func New(t testing.TB, o Options) *Bench {
	t.Helper()
	ctx := context.Background()
	if o.Accounts <= 0 {
		o.Accounts = 1
	}
	b := &Bench{}
	st, err := sqlite.Open(ctx, sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b.Store = st
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	keys, err := secrets.NewKeyRing(secrets.Key{ID: "k1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*providers.Provider
	for i := range o.Accounts {
		oauth := googletest.New(t, providertest.Options{TokenLifetime: time.Hour})
		cal := googletest.NewCalendarFor(t, oauth)
		p := oauth.Provider(t)
		p.ID = fmt.Sprintf("google-%d", i)
		p.APIBaseURL, p.Events = cal.URL, google.Name
		ps = append(ps, p)
		b.Accounts = append(b.Accounts, Account{ProviderID: p.ID, OAuth: oauth, Calendar: cal})
	}
	reg := providers.NewRegistry(ps...)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := config.Default()
	hc := providers.NewHTTPClient(d.Proxy.Timeout.D())
	b.Tokens, err = tokens.New(tokens.Options{Store: st, Keys: keys, Providers: reg, HTTPClient: hc,
		CacheSize: d.Cache.Tokens, ExpiryMargin: d.Cache.ExpiryMargin.D(), LeaseTTL: d.Refresh.LeaseTTL.D(),
		RetryDelays: []time.Duration{}, Now: b.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cursorKey := make([]byte, 32)
	_, _ = rand.Read(cursorKey)
	if o.CallTimeout == 0 {
		o.CallTimeout = events.DefaultCallTimeout
	}
	if o.PerAccount == 0 {
		o.PerAccount = events.DefaultPerAccount
	}
	b.Service, err = events.New(events.Options{Store: st, Tokens: b.Tokens, Providers: reg, HTTPClient: hc,
		Rooms: providers.NewRooms(google.Room{}), CursorKey: cursorKey,
		CallTimeout: o.CallTimeout, ListTimeout: events.DefaultListTimeout, PerAccount: o.PerAccount, Now: b.Now})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.NewAuthenticator(middleware.AuthOptions{Store: st, CacheSize: 100, CacheTTL: middleware.AppCacheTTL})
	if err != nil {
		t.Fatal(err)
	}
	if b.apps, err = apps.New(apps.Options{Store: st, Keys: keys, Providers: reg, OnChange: auth.Purge}); err != nil {
		t.Fatal(err)
	}
	if o.NoHTTP {
		return b
	}
	// The router takes every service, so the ones this bench is not about
	// are real too.
	signer, err := state.NewSigner(state.Options{Keys: []state.Key{{ID: "s1", Secret: cursorKey}},
		Issuer: "http://localhost", Audience: "http://localhost/oauth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := connect.New(connect.Options{Store: st, Tokens: b.Tokens, Providers: reg, State: signer,
		PublicURL: "http://localhost", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(proxy.Options{Creds: b.Tokens, Timeout: d.Proxy.Timeout.D(), MaxRequestBody: int64(d.Proxy.MaxRequestBody)})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhooks.New(webhooks.Options{Store: st, Keys: keys, Timeout: d.Webhooks.Timeout.D(),
		Concurrency: d.Webhooks.Concurrency, PollInterval: d.Webhooks.PollInterval.D()})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	g := gin.New()
	g.ContextWithFallback = true
	if err := api.Register(g, api.Deps{Store: st, Auth: auth, Apps: b.apps, Events: b.Service,
		Connect: conn, Proxy: px, Webhooks: wh}); err != nil {
		t.Fatal(err)
	}
	g.NoRoute(func(c *gin.Context) { middleware.Fail(c, model.Errorf(model.CodeNotFound, "no such endpoint")) })
	srv := httptest.NewServer(openapitest.Wrap(t, g))
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	return b
}

// NewApp registers an app with the given permissions (nil: all).
func (b *Bench) NewApp(t testing.TB, perms ...model.Permission) App {
	t.Helper()
	a, secret, _, err := b.apps.Create(context.Background(), apps.AppInput{Name: "Booking app",
		AllowedDomains: []string{"app.example.com"}, Permissions: perms})
	if err != nil {
		t.Fatal(err)
	}
	return App{ID: a.ID, Secret: secret}
}

// Connect saves a CONNECTED connection of app in schedule to account acct,
// with a live grant from its OAuth fake; calendars, when given, is its
// stored selection (else the primary calendar counts).
func (b *Bench) Connect(t testing.TB, app App, schedule string, acct int, calendars ...string) model.Connection {
	t.Helper()
	return b.ConnectToken(t, app, schedule, acct, b.Mint(acct), calendars...)
}

// Mint issues a live grant of account acct at its OAuth fake.
func (b *Bench) Mint(acct int) model.Token { return b.Accounts[acct].OAuth.Mint(user(acct)) }

func user(acct int) string { return fmt.Sprintf("user%d@example.com", acct) }

// ConnectToken is Connect with a given grant (one the broker believes
// expires soon, say).
func (b *Bench) ConnectToken(t testing.TB, app App, schedule string, acct int, tok model.Token, calendars ...string) model.Connection {
	t.Helper()
	a := b.Accounts[acct]
	c, _, err := b.Tokens.Save(context.Background(), model.Connection{AppID: app.ID, ProviderID: a.ProviderID,
		ScheduleID: schedule, AccountID: a.OAuth.AccountID(user(acct)), AccountEmail: user(acct), ClientSource: model.ClientBroker}, tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(calendars) > 0 {
		if c, err = b.Store.UpdateConnection(context.Background(), c.ID, func(c model.Connection) (model.Connection, error) {
			c.Calendars = calendars
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// SetStatus sets a connection's status in the store, as a failed refresh
// (NEEDS_REAUTH) or a disconnect (DISCONNECTED) leaves it.
func (b *Bench) SetStatus(t testing.TB, id string, s model.ConnectionStatus) {
	t.Helper()
	if _, err := b.Store.UpdateConnection(context.Background(), id, func(c model.Connection) (model.Connection, error) {
		c.Status = s
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Get sends GET path?query as app and returns the status and body.
func (b *Bench) Get(t testing.TB, app App, path string, q url.Values) (int, []byte) {
	t.Helper()
	u := b.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(middleware.HeaderAPIKey, app.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
