package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/netguard"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/telemetry"
)

// Schedule is the wait after each failed attempt (docs/webhooks.md): ten
// attempts over about three days, then the delivery is failed.
var Schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// JitterFraction spreads each wait of Schedule uniformly by up to ±10%, so
// deliveries that failed together do not all come back at once.
const JitterFraction = 0.1

// Options configures a Worker. Store and Keys are required; the durations
// and the concurrency are taken as given (broker.yaml's defaults live in
// package config), and New refuses one that cannot work.
type Options struct {
	Store store.Store
	Keys  *secrets.KeyRing
	// Timeout bounds one delivery attempt (connect, TLS, headers, body;
	// webhooks.timeout); positive.
	Timeout time.Duration
	// Concurrency is how many deliveries one worker has in flight
	// (webhooks.concurrency); at least 1.
	Concurrency int
	// PollInterval is how often the outbox is read when idle; Wake
	// shortens it (webhooks.pollInterval); positive.
	PollInterval time.Duration
	// Retention and FailedRetention: delivered and failed events are
	// deleted that long after they finished; 0 = kept.
	Retention, FailedRetention time.Duration
	// AllowLoopback lets webhookUrl be plain http on a loopback address
	// (server.allowInsecureLoopback); every other address a delivery must
	// not reach is refused when dialling (broker/netguard), always.
	AllowLoopback bool
	// Resolver resolves receiver names (nil: the system's). Whatever it
	// answers, the dialer refuses a loopback (unless AllowLoopback),
	// private, link-local, CGNAT, multicast or metadata address
	// (broker/netguard), so a name cannot point a delivery inside.
	Resolver *net.Resolver
	// Schedule overrides the package Schedule (tests).
	Schedule []time.Duration
	// Jitter maps a wait of the schedule to the one used; nil = ±JitterFraction.
	Jitter func(time.Duration) time.Duration
	Now    func() time.Time
	// Logger receives delivery failures and prune errors; nil = none.
	Logger *slog.Logger
	// Telemetry: a span per delivery, the client span and metric of the
	// call (without the receiver's host as a label), and
	// broker.webhook.deliveries; nil records nothing.
	Telemetry *telemetry.Telemetry
}

// Pruning of finished events.
const (
	pruneEvery = time.Hour
	pruneBatch = 1000
)

// Worker delivers due outbox events. Every replica runs one.
type Worker struct {
	o      Options
	client *http.Client
	wake   chan struct{}

	mu       sync.Mutex
	inFlight map[string]int // deliveries under way, per app
}

// perApp is how many deliveries of one app a worker has in flight at
// most: a quarter of its Concurrency, at least one. A receiver that is slow
// (or answers only at the timeout, on purpose) then holds that many slots,
// never all, and the other apps' events keep going out.
func (w *Worker) perApp() int { return max(1, w.o.Concurrency/4) }

// start reserves a slot of e's app, or says the app has perApp in flight.
func (w *Worker) start(appID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inFlight[appID] >= w.perApp() {
		return false
	}
	w.inFlight[appID]++
	return true
}

func (w *Worker) done(appID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inFlight[appID]--; w.inFlight[appID] <= 0 {
		delete(w.inFlight, appID)
	}
}

// New returns a Worker. A missing Store or Keys, or a bound that cannot
// work, is an error; nothing is replaced by a default.
func New(o Options) (*Worker, error) {
	switch {
	case o.Store == nil || o.Keys == nil:
		return nil, errors.New("webhooks: Store and Keys are required")
	case o.Timeout <= 0 || o.PollInterval <= 0:
		return nil, fmt.Errorf("webhooks: Timeout %s and PollInterval %s must be positive", o.Timeout, o.PollInterval)
	case o.Concurrency < 1:
		return nil, fmt.Errorf("webhooks: Concurrency %d: must be at least 1", o.Concurrency)
	case o.Retention < 0 || o.FailedRetention < 0:
		return nil, errors.New("webhooks: Retention and FailedRetention must not be negative")
	}
	if o.Schedule == nil {
		o.Schedule = Schedule
	}
	if o.Jitter == nil {
		o.Jitter = jitter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	client := o.Telemetry.Client(NewClient(o.Timeout, o.Resolver, netguard.Control(o.AllowLoopback)), telemetry.HideServerAddress())
	return &Worker{o: o, client: client, wake: make(chan struct{}, 1), inFlight: map[string]int{}}, nil
}

// Options are the options the Worker runs with.
func (w *Worker) Options() Options { return w.o }

func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*2-1)*JitterFraction*float64(d))
}

// lockFor is how long a claim hides an event from other replicas: longer
// than an attempt and the write of its outcome. A replica that dies
// mid-delivery leaves the event to be claimed again after it.
func (w *Worker) lockFor() time.Duration { return 2*w.o.Timeout + 5*time.Second }

// Wake makes a running worker read the outbox now (an event was queued).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the deliveries in flight
// (each bounded by Timeout) so that their outcome is recorded.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, w.o.Concurrency)
	poll := time.NewTimer(0)
	defer poll.Stop()
	nextPrune := w.o.Now()
	for {
		if !w.o.Now().Before(nextPrune) {
			w.Prune(ctx)
			nextPrune = w.o.Now().Add(pruneEvery)
		}
		free := cap(slots) - len(slots)
		got := 0
		if free > 0 {
			es, err := w.o.Store.ClaimWebhooks(ctx, w.o.Now(), free, w.lockFor())
			if err != nil && ctx.Err() == nil {
				w.o.Logger.Warn("webhooks: reading the outbox failed", "err", err)
			}
			got = len(es)
			for _, e := range es {
				if !w.start(e.AppID) {
					// Its app has perApp in flight: handed back with no
					// attempt counted and due a poll later, so the claims
					// until then reach the events of other apps first.
					got--
					if err := w.o.Store.ReleaseWebhook(ctx, e.ID, e.Attempts, w.o.Now().Add(w.o.PollInterval)); err != nil && ctx.Err() == nil {
						w.o.Logger.Warn("webhooks: handing back a claim failed; it comes back when its claim expires", "err", err)
					}
					continue
				}
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.deliver(context.WithoutCancel(ctx), e)
					w.done(e.AppID)
					<-slots
					w.Wake() // the connection's next event may be due now
				}()
			}
		}
		if free > 0 && got == free {
			continue // more may be due
		}
		poll.Reset(w.o.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-poll.C:
		}
	}
}

// DeliverDue claims and delivers every event due now, until none is left,
// and returns how many attempts it made. Tests with an injected clock call
// it instead of Run.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	total := 0
	for {
		es, err := w.o.Store.ClaimWebhooks(ctx, w.o.Now(), w.o.Concurrency, w.lockFor())
		if err != nil {
			return total, err
		}
		if len(es) == 0 {
			return total, nil
		}
		var wg sync.WaitGroup
		for _, e := range es {
			wg.Go(func() { w.deliver(ctx, e) })
		}
		wg.Wait()
		total += len(es)
	}
}

// Prune deletes finished events past their retention.
func (w *Worker) Prune(ctx context.Context) {
	if w.o.Retention <= 0 && w.o.FailedRetention <= 0 {
		return
	}
	now := w.o.Now()
	// A zero retention keeps that kind: its cut lies before every event.
	delivered, failed := time.Unix(0, 0), time.Unix(0, 0)
	if w.o.Retention > 0 {
		delivered = now.Add(-w.o.Retention)
	}
	if w.o.FailedRetention > 0 {
		failed = now.Add(-w.o.FailedRetention)
	}
	for ctx.Err() == nil {
		n, err := w.o.Store.PruneWebhooks(ctx, delivered, failed, pruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				w.o.Logger.Warn("webhooks: pruning delivered events failed", "err", err)
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}

// outcome is what one attempt came to.
type outcome struct {
	status     int           // HTTP status; 0 without an answer
	err        string        // for the delivery log: never the URL, never a whole body
	retryAfter time.Duration // the receiver's Retry-After, 0 when none
	final      bool          // do not retry (410, or nothing to deliver to)
	disable    bool          // 410 Gone: turn the app's webhooks off
}

// deliver makes one attempt at e and records its outcome.
func (w *Worker) deliver(ctx context.Context, e model.WebhookEvent) {
	ctx, span := w.o.Telemetry.Tracer().Start(ctx, "broker.webhook.deliver", trace.WithAttributes(
		telemetry.AttrApp.String(e.AppID), attribute.String("broker.webhook.id", e.ID),
		attribute.String("broker.webhook.type", string(e.Type)), attribute.Int("broker.webhook.attempt", e.Attempts)))
	defer span.End()
	if e.ConnectionID != "" {
		span.SetAttributes(telemetry.AttrConnection.String(e.ConnectionID))
	}
	app, url, o := w.target(ctx, e)
	if o.err == "" {
		o = w.send(ctx, app, url, e)
	}
	result := telemetry.WebhookRetry
	defer func() {
		w.o.Telemetry.Metrics().WebhookDelivery(ctx, result)
		span.SetAttributes(telemetry.AttrOutcome.String(result))
		if result != telemetry.WebhookDelivered {
			span.SetStatus(codes.Error, o.err)
		}
	}()
	now := w.o.Now()
	log := w.o.Logger.With("app", e.AppID, "delivery", e.ID, "type", e.Type, "attempt", e.Attempts)
	var err error
	switch {
	case o.err == "":
		result = telemetry.WebhookDelivered
		err = w.o.Store.CompleteWebhook(ctx, e.ID, now, o.status)
		log.Debug("webhooks: delivered", "status", o.status)
	case o.final || e.Attempts > len(w.o.Schedule):
		result = telemetry.WebhookFailed
		err = w.o.Store.FailWebhook(ctx, e.ID, e.Attempts, now, o.status, o.err)
		log.Warn("webhooks: delivery failed for good", "status", o.status, "cause", o.err)
	default:
		wait := w.o.Jitter(w.o.Schedule[e.Attempts-1])
		wait = max(wait, o.retryAfter)
		err = w.o.Store.RetryWebhook(ctx, e.ID, e.Attempts, now.Add(wait), o.status, o.err)
		log.Info("webhooks: delivery attempt failed; will retry", "status", o.status, "cause", o.err, "retryIn", wait.String())
	}
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		// The claim expires and the attempt is made again: at least once.
		log.Error("webhooks: recording the attempt failed", "err", err)
	}
	if o.disable {
		w.disable(ctx, app, url)
	}
}

// target returns the app and URL to deliver e to, or an outcome saying why
// there is none.
func (w *Worker) target(ctx context.Context, e model.WebhookEvent) (model.App, string, outcome) {
	app, err := w.o.Store.GetApp(ctx, e.AppID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return app, "", outcome{err: "the app was deleted", final: true}
	case err != nil:
		return app, "", outcome{err: "the broker could not read the app; will retry"}
	case app.WebhookURL == "":
		return app, "", outcome{err: "the app has no webhookUrl", final: true}
	case !app.WebhooksDisabledAt.IsZero():
		return app, "", outcome{err: "webhooks are off since the receiver answered 410 Gone; set webhookUrl again to turn them on", final: true}
	}
	if err := CheckURL(app.WebhookURL, w.o.AllowLoopback); err != nil {
		return app, "", outcome{err: "webhookUrl refused: " + err.Error(), final: true}
	}
	return app, app.WebhookURL, outcome{}
}

// keys returns the app's signing keys: the current one, then the one a
// rotation replaced while its grace lasts.
func (w *Worker) keys(app model.App) ([][]byte, error) {
	var keys [][]byte
	cur, err := w.secret(app, app.WebhookSecret)
	if err != nil {
		return nil, err
	}
	keys = append(keys, cur)
	if len(app.WebhookSecretPrev) > 0 && w.o.Now().Before(app.WebhookSecretPrevUntil) {
		prev, err := w.secret(app, app.WebhookSecretPrev)
		if err != nil {
			return nil, err
		}
		keys = append(keys, prev)
	}
	return keys, nil
}

func (w *Worker) secret(app model.App, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, errors.New("the app has no webhook secret; rotate it")
	}
	pt, err := w.o.Keys.Decrypt(sealed, model.WebhookSecretAAD(app.ID))
	if err != nil {
		return nil, errors.New("the webhook secret cannot be decrypted with security.encryptionKeys")
	}
	return DecodeSecret(string(pt))
}

// disable turns the app's webhooks off after a 410, unless its webhookUrl
// changed since the attempt (the new one deserves its own chance).
func (w *Worker) disable(ctx context.Context, app model.App, url string) {
	now := w.o.Now()
	_, err := w.o.Store.UpdateApp(ctx, app.ID, func(a model.App) (model.App, error) {
		if a.WebhookURL == url && a.WebhooksDisabledAt.IsZero() {
			a.WebhooksDisabledAt = now
		}
		return a, nil
	})
	if err != nil {
		w.o.Logger.Error("webhooks: turning webhooks off after 410 Gone failed", "app", app.ID, "err", err)
		return
	}
	w.o.Logger.Warn("webhooks: receiver answered 410 Gone: webhooks are off until webhookUrl is set again", "app", app.ID)
}
