package telemetry

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Span attribute keys of the broker's own attributes. Ids belong on spans
// (one trace, one connection), never on metrics.
const (
	AttrProvider   = attribute.Key("broker.provider")
	AttrApp        = attribute.Key("broker.app.id")
	AttrConnection = attribute.Key("broker.connection.id")
	AttrOutcome    = attribute.Key("broker.outcome")
)

// Annotate adds attributes to the span in ctx. It costs one atomic load
// while no broker in the process traces, and a context lookup when the span
// is not recording (not sampled); callers build the attributes inline,
// which the compiler keeps on the stack.
func Annotate(ctx context.Context, kv ...attribute.KeyValue) {
	if !anyTracing.Load() {
		return
	}
	if s := trace.SpanFromContext(ctx); s.IsRecording() {
		s.SetAttributes(kv...)
	}
}

// Recording reports whether ctx's span records, so a caller can skip
// building attributes nobody keeps.
func Recording(ctx context.Context) bool {
	return anyTracing.Load() && trace.SpanFromContext(ctx).IsRecording()
}

// anyTracing is set once a Telemetry with tracing on is built in this
// process. Until then no span the broker's own attributes belong on can
// exist, so Annotate and Recording skip the context walk that finding the
// span costs (twice per proxied request, docs/performance.md).
var anyTracing atomic.Bool

// TraceID is the id of ctx's span, or "" when there is none (tracing off).
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// redactingExporter rewrites the URL attributes the HTTP instrumentation
// records, before any span leaves the process: the query's values go (a
// callback's code and state, an API key injected as a query parameter), so
// does user info, and a server span's url.path becomes its route (a raw path
// names connections and sessions). The instrumentation sets these after a
// span starts, so an exporter, which sees the finished span, is the one
// place that catches them all.
type redactingExporter struct{ sdktrace.SpanExporter }

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = redactedSpan{s}
	}
	return e.SpanExporter.ExportSpans(ctx, out)
}

type redactedSpan struct{ sdktrace.ReadOnlySpan }

func (s redactedSpan) Attributes() []attribute.KeyValue {
	in := s.ReadOnlySpan.Attributes()
	route := ""
	for _, kv := range in {
		if kv.Key == semconv.HTTPRouteKey {
			route = kv.Value.AsString()
		}
	}
	hidePath := false
	for _, kv := range in {
		if kv.Key == attrRedactPath {
			hidePath = true
		}
	}
	out := make([]attribute.KeyValue, 0, len(in))
	for _, kv := range in {
		switch kv.Key {
		case attrRedactPath:
			continue
		case semconv.URLFullKey:
			if hidePath {
				kv = semconv.URLFull(originOnly(kv.Value.AsString()))
			} else {
				kv = semconv.URLFull(RedactURL(kv.Value.AsString()))
			}
		case semconv.URLQueryKey:
			kv = semconv.URLQuery(redactQuery(kv.Value.AsString()))
		case semconv.URLPathKey:
			if s.SpanKind() == trace.SpanKindServer {
				if route == "" {
					route = "REDACTED" // unmatched: a scanner's path is not ours to keep
				}
				kv = semconv.URLPath(route)
			}
		}
		out = append(out, kv)
	}
	return out
}

// attrRedactPath marks a client span whose URL path is not to be exported
// (HideServerAddress); the exporter drops the mark.
const attrRedactPath = attribute.Key("broker.internal.redact_path")

// originOnly is scheme://host[:port] of a URL.
func originOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "REDACTED"
	}
	return u.Scheme + "://" + u.Host
}

// RedactURL drops user info and every query value of a URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "REDACTED"
	}
	u.User = nil
	u.RawQuery = redactQuery(u.RawQuery)
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		parts[i] = k + "=REDACTED"
	}
	return strings.Join(parts, "&")
}

func asNetTimeout(err error, ne *net.Error) bool {
	return errors.As(err, ne) && (*ne).Timeout() || errors.Is(err, context.DeadlineExceeded)
}

func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }

// otelError reports an instrument that could not be made; the SDK then
// hands back a working no-op, so the broker keeps running.
func otelError(err error) { otel.Handle(err) }

// StartFanoutCall begins one connection's part of an events or free/busy
// fan-out: a child span "broker.events.call" (provider, connection) under
// the request's span. Call end with the call's error once it returns; it
// ends the span with its outcome and records broker.events.fanout.duration
// and, on an error, broker.events.fanout.failures. The error's text goes on
// the span only as its status; callers pass errors safe to show (no token,
// no provider body).
func (t *Telemetry) StartFanoutCall(ctx context.Context, provider, connID string) (context.Context, func(err error)) {
	start := time.Now()
	ctx, span := t.Tracer().Start(ctx, "broker.events.call", trace.WithAttributes(
		AttrProvider.String(provider), AttrConnection.String(connID)))
	m := t.Metrics()
	return ctx, func(err error) {
		m.FanoutCall(ctx, provider, time.Since(start), err != nil)
		if span.IsRecording() {
			if err != nil {
				span.SetAttributes(AttrOutcome.String("error"))
				span.SetStatus(codes.Error, err.Error())
			} else {
				span.SetAttributes(AttrOutcome.String("ok"))
			}
		}
		span.End()
	}
}
