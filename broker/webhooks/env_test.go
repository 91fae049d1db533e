package webhooks

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/config"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// received is one delivery as the receiver saw it.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
	Verified                 error // the reference library's verdict
}

// receiver is an app's webhook endpoint: a real HTTP server that verifies
// every delivery with the Standard Webhooks reference library, then answers
// with respond (200 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	secret  string
	got     []received
	respond func(w http.ResponseWriter, r *http.Request, n int) // n: 0-based request count
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{secret: secret}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, err := standardwebhooks.NewWebhook(rc.secretNow())
		if err == nil {
			// The tests' clock is simulated; the signature is what counts.
			err = wh.VerifyIgnoringTimestamp(body, r.Header)
		}
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{ID: r.Header.Get(HeaderID), Timestamp: r.Header.Get(HeaderTimestamp),
			Signature: r.Header.Get(HeaderSignature), Body: body, Verified: err})
		respond := rc.respond
		rc.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) secretNow() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.secret
}

func (rc *receiver) setRespond(f func(w http.ResponseWriter, r *http.Request, n int)) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) deliveries() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// env is a worker on a real (in-memory SQLite) store with one app.
type env struct {
	t      *testing.T
	st     store.Store
	keys   *secrets.KeyRing
	clock  *clock
	w      *Worker
	app    model.App
	secret string
	rc     *receiver
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	k := make([]byte, 32)
	rand.Read(k)
	keys, err := secrets.NewKeyRing(secrets.Key{ID: "e1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, keys: keys, clock: &clock{t: t0}, secret: secrets.NewWebhookSecret()}
	e.rc = newReceiver(t, e.secret)
	e.app = model.App{ID: model.NewID(model.PrefixApp), Name: "booking", WebhookURL: e.rc.URL + "/hooks?token=receiver-own-token"}
	if e.app.WebhookSecret, err = keys.Encrypt([]byte(e.secret), model.WebhookSecretAAD(e.app.ID)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateApp(t.Context(), e.app); err != nil {
		t.Fatal(err)
	}
	d := config.Default().Webhooks
	o := Options{Store: st, Keys: keys, Now: e.clock.Now, AllowLoopback: true, Timeout: 2 * time.Second,
		Concurrency: d.Concurrency, PollInterval: d.PollInterval.D(),
		Jitter: func(d time.Duration) time.Duration { return d },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if tweak != nil {
		tweak(&o)
	}
	if e.w, err = New(o); err != nil {
		t.Fatal(err)
	}
	return e
}

// event queues a connection event for conn (n distinguishes its bodies).
func (e *env) event(conn string, typ string) model.WebhookEvent {
	e.t.Helper()
	c := model.Connection{ID: conn, AppID: e.app.ID, ProviderID: "google", ScheduleID: "sched-1",
		Status: model.StatusConnected, AccountEmail: "ann@example.com", CreatedAt: e.clock.Now(),
		Credentials: []byte("sealed-token-bytes")}
	ev := model.NewConnectionEvent(typ, c, e.clock.Now())
	if err := e.st.EnqueueWebhook(e.t.Context(), ev); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// deliverDue runs one pass of the worker at the current simulated time.
func (e *env) deliverDue() int {
	e.t.Helper()
	n, err := e.w.DeliverDue(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) get(id string) model.WebhookEvent {
	e.t.Helper()
	ev, err := e.st.GetWebhook(context.Background(), e.app.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func status(code int, header ...string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
