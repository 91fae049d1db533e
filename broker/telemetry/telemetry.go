package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Options say what to build. The zero value is telemetry off.
type Options struct {
	// OTLPEndpoint is telemetry.otlp.endpoint; empty leaves it to the
	// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables, and none set = no traces.
	OTLPEndpoint string
	// OTLPProtocol is grpc or http (OTEL_EXPORTER_OTLP_PROTOCOL overrides it
	// when the endpoint comes from the environment).
	OTLPProtocol string
	// Prometheus turns the metrics on (telemetry.prometheus).
	Prometheus bool
	// ServiceVersion goes on the resource.
	ServiceVersion string
	// SpanExporter, when set, receives the spans instead of OTLP (tests use
	// an in-memory exporter); Sampler overrides OTEL_TRACES_SAMPLER.
	SpanExporter sdktrace.SpanExporter
	Sampler      sdktrace.Sampler
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
}

// Telemetry is what New built. A nil *Telemetry is telemetry off.
type Telemetry struct {
	opts     Options // as given, for Options
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	tracing  bool
	metrics  *Metrics
	handler  http.Handler
	shutdown []func(context.Context) error
}

// ServiceName is the resource's service.name unless OTEL_SERVICE_NAME says
// otherwise.
const ServiceName = "broker"

// New builds the providers. It never installs them globally: the broker
// passes them to what it wires, so two brokers in one process (tests, an
// embedding app) do not share or clobber each other's.
func New(ctx context.Context, o Options) (*Telemetry, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	t := &Telemetry{
		opts: o,
		tp:   tracenoop.NewTracerProvider(),
		mp:   metricnoop.NewMeterProvider(),
		prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(ServiceName), semconv.ServiceVersion(o.ServiceVersion)))
	if err != nil {
		// Only a schema URL conflict; fall back to the plain resource.
		res = resource.NewSchemaless(semconv.ServiceName(ServiceName))
	}
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		res, _ = resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(v)))
	}

	exp := o.SpanExporter
	if exp == nil && getenv("OTEL_SDK_DISABLED") != "true" {
		exp, err = otlpExporter(ctx, o, getenv)
		if err != nil {
			return nil, err
		}
	}
	if exp != nil {
		exp = redactingExporter{exp}
		opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		if o.Sampler != nil {
			opts = append(opts, sdktrace.WithSampler(o.Sampler))
		}
		if o.SpanExporter != nil {
			opts = append(opts, sdktrace.WithSyncer(exp))
		} else {
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
		// Without WithSampler the SDK reads OTEL_TRACES_SAMPLER(_ARG), and
		// defaults to parentbased_always_on.
		stp := sdktrace.NewTracerProvider(opts...)
		t.tp, t.tracing = stp, true
		anyTracing.Store(true)
		t.shutdown = append(t.shutdown, stp.Shutdown)
	}

	if o.Prometheus {
		reg := promclient.NewRegistry()
		pe, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(),
			otelprom.WithAggregationSelector(aggregationFor))
		if err != nil {
			return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		// No exemplars: the Prometheus text format /metrics serves cannot
		// carry them, so offering each measurement to a reservoir would be
		// work on the hot path for nothing.
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(pe),
			sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
		t.mp = mp
		t.shutdown = append(t.shutdown, mp.Shutdown)
		t.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	}
	t.metrics, err = newMetrics(t.mp)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// aggregationFor is the SDK's default aggregation, but histograms keep no
// minimum and maximum: the Prometheus format has no place for them, and
// keeping them is two compare-and-swap loops on one shared word per
// measurement, on every request (docs/performance.md). An instrument's own
// bucket boundaries still replace the default ones.
func aggregationFor(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	a := sdkmetric.DefaultAggregationSelector(k)
	if h, ok := a.(sdkmetric.AggregationExplicitBucketHistogram); ok {
		h.NoMinMax = true
		return h
	}
	return a
}

// otlpExporter returns the OTLP trace exporter the config or the OTEL_*
// variables ask for, or nil when neither names an endpoint.
func otlpExporter(ctx context.Context, o Options, getenv func(string) string) (sdktrace.SpanExporter, error) {
	proto := o.OTLPProtocol
	if o.OTLPEndpoint == "" {
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return nil, nil
		}
		if getenv("OTEL_TRACES_EXPORTER") == "none" {
			return nil, nil
		}
		for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
			if v := getenv(k); v != "" {
				proto = v
				break
			}
		}
	}
	switch strings.ToLower(proto) {
	case "", "grpc": // "": no protocol from the config nor the OTEL_* variables
		var opts []otlptracegrpc.Option
		if o.OTLPEndpoint != "" {
			opts = append(opts, endpointGRPC(o.OTLPEndpoint)...)
		}
		return otlptracegrpc.New(ctx, opts...)
	case "http", "http/protobuf":
		var opts []otlptracehttp.Option
		if o.OTLPEndpoint != "" {
			opts = append(opts, endpointHTTP(o.OTLPEndpoint)...)
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("telemetry: OTLP protocol %q: want grpc or http", proto)
}

// endpointGRPC takes host:port or a URL; http:// means no TLS.
func endpointGRPC(ep string) []otlptracegrpc.Option {
	if strings.Contains(ep, "://") {
		return []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(ep)}
	}
	return []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep)}
}

// endpointHTTP takes host:port or a URL. Like OTEL_EXPORTER_OTLP_ENDPOINT, a
// URL without a path is the collector's base and /v1/traces is appended; a
// URL with a path is used as it is.
func endpointHTTP(ep string) []otlptracehttp.Option {
	if strings.Contains(ep, "://") {
		if u, err := url.Parse(ep); err == nil && (u.Path == "" || u.Path == "/") {
			u.Path = "/v1/traces"
			ep = u.String()
		}
		return []otlptracehttp.Option{otlptracehttp.WithEndpointURL(ep)}
	}
	return []otlptracehttp.Option{otlptracehttp.WithEndpoint(ep)}
}

// TracerProvider is the broker's tracer provider (a no-op when tracing is off).
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil {
		return tracenoop.NewTracerProvider()
	}
	return t.tp
}

// MeterProvider is the broker's meter provider (a no-op when metrics are off).
func (t *Telemetry) MeterProvider() metric.MeterProvider {
	if t == nil {
		return metricnoop.NewMeterProvider()
	}
	return t.mp
}

// Propagator is W3C trace context plus baggage.
func (t *Telemetry) Propagator() propagation.TextMapPropagator {
	if t == nil {
		return propagation.TraceContext{}
	}
	return t.prop
}

// Options are the options New was given (nil: none).
func (t *Telemetry) Options() Options {
	if t == nil {
		return Options{}
	}
	return t.opts
}

// Tracing reports whether spans are exported.
func (t *Telemetry) Tracing() bool { return t != nil && t.tracing }

// Metrics are the broker's instruments; nil (all methods no-ops) when t is nil.
func (t *Telemetry) Metrics() *Metrics {
	if t == nil {
		return nil
	}
	return t.metrics
}

// MetricsHandler serves the Prometheus text format, or is nil when metrics
// are off.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t == nil {
		return nil
	}
	return t.handler
}

// Tracer is the broker's own tracer, for spans the HTTP instrumentation does
// not make (one per connection of an events fan-out).
func (t *Telemetry) Tracer() trace.Tracer {
	return t.TracerProvider().Tracer(ScopeName)
}

// ScopeName names the broker's instrumentation scope.
const ScopeName = "github.com/oauthbroker/broker"

// Shutdown flushes pending spans and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
