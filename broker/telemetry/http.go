package telemetry

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// durationBuckets are the semantic conventions' advice for HTTP durations.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Server returns the Gin middleware of the server side, to put first: the
// http.server.request.duration histogram (our own, when metrics are on:
// otelgin's builds a dozen attributes per request and costs the proxy more
// than the broker's whole access log), then a span per request named
// "{method} {route}" with http.route (the maintained otelgin, only when
// tracing is on). None when both are off.
func (t *Telemetry) Server() []gin.HandlerFunc {
	var hs []gin.HandlerFunc
	if t.metricsOn() {
		hs = append(hs, t.serverMetrics())
	}
	if t.Tracing() {
		hs = append(hs, otelgin.Middleware(ServiceName,
			otelgin.WithTracerProvider(t.tp),
			otelgin.WithPropagators(t.prop),
			otelgin.WithMeterProvider(metricnoop.NewMeterProvider())))
	}
	return hs
}

func (t *Telemetry) metricsOn() bool { return t != nil && t.handler != nil }

// attrCache keeps one attribute set per distinct label combination, so
// recording a request builds no attribute set once its route, method and
// status were seen (the SDK still walks the set on every measurement, so
// the sets carry only the attributes the conventions require). Routes are templates and methods are folded (semconv's _OTHER),
// so the set of keys is bounded.
type attrCache[K comparable] struct {
	m    sync.Map
	make func(K) attribute.Set
}

// get returns the options slice itself, so that Record(ctx, v, opts...)
// does not allocate a fresh one per call.
func (a *attrCache[K]) get(k K) []metric.RecordOption {
	if v, ok := a.m.Load(k); ok {
		return v.([]metric.RecordOption)
	}
	set := a.make(k)
	v, _ := a.m.LoadOrStore(k, []metric.RecordOption{metric.WithAttributeSet(set)})
	return v.([]metric.RecordOption)
}

type serverKey struct {
	method, route, scheme string
	status                int
}

func (t *Telemetry) serverMetrics() gin.HandlerFunc {
	h, err := t.mp.Meter(ScopeName).Float64Histogram("http.server.request.duration",
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		otelError(err)
	}
	cache := &attrCache[serverKey]{make: func(k serverKey) attribute.Set {
		kv := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(k.method),
			semconv.HTTPResponseStatusCode(k.status),
			semconv.URLScheme(k.scheme),
		}
		if k.route != "" {
			kv = append(kv, semconv.HTTPRoute(k.route))
		}
		if k.status >= 500 {
			kv = append(kv, semconv.ErrorTypeKey.String(strconv.Itoa(k.status)))
		}
		return attribute.NewSet(kv...)
	}}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		scheme := "http"
		if c.Request.TLS != nil {
			scheme = "https"
		}
		k := serverKey{method: knownMethod(c.Request.Method), route: c.FullPath(), scheme: scheme, status: c.Writer.Status()}
		h.Record(c.Request.Context(), time.Since(start).Seconds(), cache.get(k)...)
	}
}

// knownMethod folds methods outside the HTTP standard set into _OTHER, as
// the semantic conventions ask, so a scanner's invented methods cannot grow
// the label set.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "PROPFIND", "REPORT":
		return m
	}
	return "_OTHER"
}

// Transport instruments outbound calls (token endpoint, provider API and
// proxy, events adapters, webhooks): the http.client.request.duration
// histogram when metrics are on, and a client span (the maintained otelhttp)
// that carries W3C trace context to the provider when tracing is on. base nil
// is http.DefaultTransport. Off, it returns base unchanged.
func (t *Telemetry) Transport(base http.RoundTripper, opts ...ClientOption) http.RoundTripper {
	var co clientOptions
	for _, o := range opts {
		o(&co)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	rt := base
	if t.Tracing() {
		opts := []otelhttp.Option{
			otelhttp.WithTracerProvider(t.tp),
			otelhttp.WithPropagators(t.prop),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		}
		if co.hideHost {
			// The exporter keeps only scheme and host of these spans' URL.
			opts = append(opts, otelhttp.WithSpanOptions(trace.WithAttributes(attrRedactPath.Bool(true))))
		}
		rt = otelhttp.NewTransport(rt, opts...)
	}
	if t.metricsOn() {
		rt = t.clientMetrics(rt, co.hideHost)
	}
	return rt
}

// ClientOption adjusts Transport.
type ClientOption func(*clientOptions)

type clientOptions struct{ hideHost bool }

// HideServerAddress leaves server.address and server.port off the client
// metric (webhook hosts are chosen per app, so as a label they would grow
// with the apps and name them), and keeps only the scheme and host of the
// client span's url.full: a webhook URL often carries its secret in the
// path (https://hooks.example.com/services/T0/B0/secret).
func HideServerAddress() ClientOption { return func(o *clientOptions) { o.hideHost = true } }

// Client returns a copy of c whose transport is instrumented (see Transport).
func (t *Telemetry) Client(c *http.Client, opts ...ClientOption) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	if !t.Tracing() && !t.metricsOn() {
		return c
	}
	cp := *c
	cp.Transport = t.Transport(c.Transport, opts...)
	return &cp
}

type clientKey struct {
	method, host string
	port         int
	status       int
	errType      string
}

type clientMetrics struct {
	base     http.RoundTripper
	hideHost bool
	h        metric.Float64Histogram
	cache    *attrCache[clientKey]
}

func (t *Telemetry) clientMetrics(base http.RoundTripper, hideHost bool) http.RoundTripper {
	h, err := t.mp.Meter(ScopeName).Float64Histogram("http.client.request.duration",
		metric.WithDescription("Duration of HTTP client requests."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		otelError(err)
	}
	return &clientMetrics{base: base, hideHost: hideHost, h: h, cache: &attrCache[clientKey]{make: func(k clientKey) attribute.Set {
		kv := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(k.method)}
		if k.host != "" {
			kv = append(kv, semconv.ServerAddress(k.host), semconv.ServerPort(k.port))
		}
		if k.status > 0 {
			kv = append(kv, semconv.HTTPResponseStatusCode(k.status))
		}
		if k.errType != "" {
			kv = append(kv, semconv.ErrorTypeKey.String(k.errType))
		}
		return attribute.NewSet(kv...)
	}}}
}

func (m *clientMetrics) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := m.base.RoundTrip(r)
	k := clientKey{method: knownMethod(r.Method)}
	if !m.hideHost {
		k.host, k.port = r.URL.Hostname(), urlPort(r)
	}
	switch {
	case err != nil:
		k.errType = errorType(err)
	default:
		k.status = resp.StatusCode
		if resp.StatusCode >= 500 {
			k.errType = strconv.Itoa(resp.StatusCode)
		}
	}
	// Time to the response head: the body streams to the caller afterwards.
	m.h.Record(r.Context(), time.Since(start).Seconds(), m.cache.get(k)...)
	return resp, err
}

func urlPort(r *http.Request) int {
	if p := r.URL.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	if r.URL.Scheme == "http" {
		return 80
	}
	return 443
}

// errorType is a bounded class of a transport error, never its text (which
// may name a URL).
func errorType(err error) string {
	var ne net.Error
	switch {
	case asNetTimeout(err, &ne):
		return "timeout"
	case isCanceled(err):
		return "canceled"
	}
	return "transport"
}
