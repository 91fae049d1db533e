package telemetry

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Outcome and result values the broker records; each metric's label values
// are fixed small sets, never ids (docs/operations.md lists them).
const (
	// Refresh outcomes.
	RefreshOK          = "ok"
	RefreshNeedsReauth = "needs_reauth" // the provider refused the refresh token
	RefreshError       = "error"        // transient: provider down, timeout, store
	// Connect results, the ones the callback hands the app.
	ConnectConnected   = "connected"
	ConnectReject      = "reject"
	ConnectUnsupported = "unsupported"
	ConnectInternal    = "internal"
	// Webhook delivery outcomes (one per attempt).
	WebhookDelivered = "delivered"
	WebhookRetry     = "retry"
	WebhookFailed    = "failed" // given up: retries exhausted or 410
)

var (
	keyProvider = attribute.Key("provider")
	keyOutcome  = attribute.Key("outcome")
	keyResult   = attribute.Key("result")
	keyStatus   = attribute.Key("status")
)

// Metrics are the broker.* instruments. Every method is safe on a nil
// *Metrics (telemetry off) and allocates nothing on the no-op provider.
type Metrics struct {
	meter     metric.Meter
	refreshes metric.Int64Counter
	// Token cache lookups, one per proxied request: an atomic add each,
	// reported by observable counters at collection, instead of the SDK's
	// Add (a lock and an attribute-set lookup) on the hot path.
	cacheHits, cacheMisses atomic.Int64
	connects               metric.Int64Counter
	fanout                 metric.Float64Histogram
	fanoutFailed           metric.Int64Counter
	deliveries             metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) (*Metrics, error) {
	m := &Metrics{meter: mp.Meter(ScopeName)}
	var err error
	try := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	try(func() (e error) {
		m.refreshes, e = m.meter.Int64Counter("broker.token.refreshes",
			metric.WithDescription("Token refreshes at the provider, by provider and outcome (ok, needs_reauth, error)."),
			metric.WithUnit("{refresh}"))
		return
	})
	try(func() (e error) {
		_, e = m.meter.Int64ObservableCounter("broker.token.cache.hits",
			metric.WithDescription("Credential lookups answered from the token cache without I/O."),
			metric.WithUnit("{lookup}"), observe(&m.cacheHits))
		return
	})
	try(func() (e error) {
		_, e = m.meter.Int64ObservableCounter("broker.token.cache.misses",
			metric.WithDescription("Credential lookups that had to read the store or refresh."),
			metric.WithUnit("{lookup}"), observe(&m.cacheMisses))
		return
	})
	try(func() (e error) {
		m.connects, e = m.meter.Int64Counter("broker.connect.flows",
			metric.WithDescription("Finished connect flows by provider and result (connected, reject, unsupported, internal)."),
			metric.WithUnit("{flow}"))
		return
	})
	try(func() (e error) {
		m.fanout, e = m.meter.Float64Histogram("broker.events.fanout.duration",
			metric.WithDescription("Duration of one connection's calendar call within an events or free/busy fan-out, by provider."),
			metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
		return
	})
	try(func() (e error) {
		m.fanoutFailed, e = m.meter.Int64Counter("broker.events.fanout.failures",
			metric.WithDescription("Connections of an events or free/busy fan-out whose calendar call failed, by provider."),
			metric.WithUnit("{call}"))
		return
	})
	try(func() (e error) {
		m.deliveries, e = m.meter.Int64Counter("broker.webhook.deliveries",
			metric.WithDescription("Webhook delivery attempts by outcome (delivered, retry, failed)."),
			metric.WithUnit("{attempt}"))
		return
	})
	return m, err
}

// providerOpt builds a small attribute set; the one per-request instrument
// (the token cache) carries no attributes, so only rarer events pay for it.
func providerOpt(k attribute.Key, v string, provider string) metric.MeasurementOption {
	if v == "" {
		return metric.WithAttributeSet(attribute.NewSet(keyProvider.String(provider)))
	}
	return metric.WithAttributeSet(attribute.NewSet(keyProvider.String(provider), k.String(v)))
}

// Refresh counts one refresh at the provider.
func (m *Metrics) Refresh(ctx context.Context, provider, outcome string) {
	if m == nil {
		return
	}
	m.refreshes.Add(ctx, 1, providerOpt(keyOutcome, outcome, provider))
}

// TokenCache counts one credential lookup as a hit or a miss.
func (m *Metrics) TokenCache(ctx context.Context, hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheHits.Add(1)
	} else {
		m.cacheMisses.Add(1)
	}
}

// observe reports n's running total as an observable counter's value.
func observe(n *atomic.Int64) metric.Int64ObservableOption {
	return metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(n.Load())
		return nil
	})
}

// Connect counts one finished connect flow.
func (m *Metrics) Connect(ctx context.Context, provider, result string) {
	if m == nil {
		return
	}
	m.connects.Add(ctx, 1, providerOpt(keyResult, result, provider))
}

// FanoutCall records one connection's call of an events fan-out.
func (m *Metrics) FanoutCall(ctx context.Context, provider string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	opt := providerOpt("", "", provider)
	m.fanout.Record(ctx, d.Seconds(), opt)
	if failed {
		m.fanoutFailed.Add(ctx, 1, opt)
	}
}

// WebhookDelivery counts one delivery attempt.
func (m *Metrics) WebhookDelivery(ctx context.Context, outcome string) {
	if m == nil {
		return
	}
	m.deliveries.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(keyOutcome.String(outcome))))
}

// ConnectionCounter reports the number of connections per status.
type ConnectionCounter func(ctx context.Context) (map[string]int64, error)

// WebhookBacklog reports pending deliveries and the time the oldest was queued
// (zero when none is pending).
type WebhookBacklog func(ctx context.Context) (pending int64, oldest time.Time, err error)

// ObserveStore registers the gauges read from the store at scrape time:
// broker.connections by status, broker.webhook.backlog and
// broker.webhook.oldest_pending_age. now is the clock for the age.
func (m *Metrics) ObserveStore(conns ConnectionCounter, backlog WebhookBacklog, now func() time.Time) error {
	if m == nil {
		return nil
	}
	cg, err := m.meter.Int64ObservableGauge("broker.connections",
		metric.WithDescription("Stored connections by status (ACTIVE, NEEDS_REAUTH, DISCONNECTED, …)."),
		metric.WithUnit("{connection}"))
	if err != nil {
		return err
	}
	bg, err := m.meter.Int64ObservableGauge("broker.webhook.backlog",
		metric.WithDescription("Webhook deliveries waiting to be delivered (pending, including those waiting for a retry)."),
		metric.WithUnit("{delivery}"))
	if err != nil {
		return err
	}
	ag, err := m.meter.Float64ObservableGauge("broker.webhook.oldest_pending_age",
		metric.WithDescription("Age of the oldest pending webhook delivery; 0 when none is pending."),
		metric.WithUnit("s"))
	if err != nil {
		return err
	}
	_, err = m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if conns != nil {
			counts, err := conns(ctx)
			if err != nil {
				return err
			}
			for status, n := range counts {
				o.ObserveInt64(cg, n, metric.WithAttributeSet(attribute.NewSet(keyStatus.String(status))))
			}
		}
		if backlog != nil {
			n, oldest, err := backlog(ctx)
			if err != nil {
				return err
			}
			o.ObserveInt64(bg, n)
			age := 0.0
			if n > 0 && !oldest.IsZero() {
				age = max(now().Sub(oldest).Seconds(), 0)
			}
			o.ObserveFloat64(ag, age)
		}
		return nil
	}, cg, bg, ag)
	return err
}
