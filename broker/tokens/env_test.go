package tokens

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom"
	"github.com/oauthbroker/broker/providers/providertest"
)

// countingStore is the real store with its connection reads counted.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) GetConnectionByID(ctx context.Context, id string) (model.Connection, error) {
	c.reads.Add(1)
	return c.Store.GetConnectionByID(ctx, id)
}

func (c *countingStore) GetConnection(ctx context.Context, appID, id string) (model.Connection, error) {
	c.reads.Add(1)
	return c.Store.GetConnection(ctx, appID, id)
}

// clock is a settable test clock; zero offset = real time.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time           { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration)  { c.off.Add(int64(d)) }
func (c *clock) Set(offset time.Duration) { c.off.Store(int64(offset)) }
func quietLogger() *slog.Logger           { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func bg() context.Context                 { return context.Background() }

func mustKeys(t testing.TB) *secrets.KeyRing {
	k := make([]byte, secrets.KeySize)
	for i := range k {
		k[i] = byte(i + 1)
	}
	r, err := secrets.NewKeyRing(secrets.Key{ID: "k1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// openStore opens and migrates a SQLite store at path (sqlite.Memory or a file).
func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(bg(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(bg()); err != nil {
		t.Fatal(err)
	}
	return st
}

// env is one fake provider, a real SQLite store, an app and a Manager.
type env struct {
	fake  *providertest.Server
	p     *providers.Provider
	reg   *providers.Registry
	st    *countingStore
	keys  *secrets.KeyRing
	clk   *clock
	m     *Manager
	appID string
	path  string // the database file, when envOpts.file
}

type envOpts struct {
	fake    providertest.Options
	file    bool // a file database (several stores on it) instead of memory
	options func(*Options)
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.fake.TokenLifetime == 0 && (o.fake.Wire == nil || o.fake.Wire.Name() != calcom.Name) {
		o.fake.TokenLifetime = time.Hour
	}
	e := &env{fake: providertest.New(t, o.fake), keys: mustKeys(t), clk: &clock{}}
	e.p = e.fake.Provider(t)
	e.reg = providers.NewRegistry(e.p)
	path := sqlite.Memory
	if o.file {
		path = filepath.Join(t.TempDir(), "broker.db")
	}
	e.path = path
	e.st = &countingStore{Store: openStore(t, path)}
	e.appID = model.NewID(model.PrefixApp)
	now := time.Now()
	if err := e.st.CreateApp(bg(), model.App{ID: e.appID, Name: "test app", Permissions: model.AllPermissions,
		SecretHash: []byte("x"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.m = e.manager(t, e.st, o.options)
	return e
}

// manager builds a Manager on st (another "replica" when st is another
// store on the same file).
func (e *env) manager(t testing.TB, st store.Store, opt func(*Options)) *Manager {
	t.Helper()
	d := config.Default()
	o := Options{Store: st, Keys: e.keys, Providers: e.reg, HTTPClient: providers.NewHTTPClient(10 * time.Second),
		CacheSize: d.Cache.Tokens, ExpiryMargin: d.Cache.ExpiryMargin.D(), LeaseTTL: d.Refresh.LeaseTTL.D(),
		RetryDelays: []time.Duration{time.Millisecond, time.Millisecond}, Now: e.clk.Now, Logger: quietLogger()}
	if opt != nil {
		opt(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// connect saves a connection for the fake's default user with tok.
func (e *env) connect(t testing.TB, tok model.Token) model.Connection {
	t.Helper()
	return e.connectAs(t, providertest.DefaultUser, tok)
}

func (e *env) connectAs(t testing.TB, user string, tok model.Token) model.Connection {
	t.Helper()
	c, _, err := e.m.Save(bg(), model.Connection{AppID: e.appID, ProviderID: e.p.ID, ScheduleID: "sched-1",
		AccountID: e.fake.AccountID(user), AccountEmail: user, ClientSource: model.ClientBroker}, tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// expiredToken mints a live grant whose access token the broker believes expired.
func (e *env) expiredToken() model.Token {
	tok := e.fake.Mint("")
	tok.Expiry = e.clk.Now().Add(-time.Minute)
	return tok
}

// stored reads the connection and its decrypted token from the store.
func (e *env) stored(t testing.TB, id string) (model.Connection, model.Token) {
	t.Helper()
	c, err := e.st.Store.GetConnectionByID(bg(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Credentials) == 0 {
		return c, model.Token{}
	}
	tok, err := e.m.Token(bg(), c)
	if err != nil {
		t.Fatal(err)
	}
	return c, tok
}

// events lists the app's outbox entries of one type.
func (e *env) events(t testing.TB, typ string) []model.WebhookEvent {
	t.Helper()
	all, err := e.st.ListWebhooks(bg(), store.WebhookFilter{AppID: e.appID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []model.WebhookEvent
	for _, ev := range all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// gate is an http.RoundTripper that holds requests to one path until
// opened: it lets a test act while a refresh is on the wire.
type gate struct {
	path    string
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(path string) *gate {
	return &gate{path: path, arrived: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == g.path {
		g.once.Do(func() { close(g.arrived) })
		<-g.open
	}
	return http.DefaultTransport.RoundTrip(r)
}
