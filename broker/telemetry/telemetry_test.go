package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Neither telemetry.otlp nor OTEL_* set: no tracing, so nothing to pay.
func TestTracingOffWithoutEndpoint(t *testing.T) {
	tel, err := New(context.Background(), Options{Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tel.Tracing() || tel.MetricsHandler() != nil || len(tel.Server()) != 0 {
		t.Fatal("telemetry on with nothing configured")
	}
	base := http.DefaultTransport
	if tel.Transport(base) != base {
		t.Error("an uninstrumented transport was wrapped")
	}
}

func TestOTLPFromEnvironmentOrConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		env  map[string]string
		want bool
	}{
		{"env endpoint", Options{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}, true},
		{"env traces endpoint, http", Options{}, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, true},
		{"config endpoint", Options{OTLPEndpoint: "127.0.0.1:4317", OTLPProtocol: "grpc"}, nil, true},
		{"config http endpoint", Options{OTLPEndpoint: "http://127.0.0.1:4318", OTLPProtocol: "http"}, nil, true},
		{"exporter none", Options{}, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"sdk disabled", Options{OTLPEndpoint: "127.0.0.1:4317"}, map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Getenv = env(tc.env)
			tel, err := New(context.Background(), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			defer tel.Shutdown(context.Background())
			if tel.Tracing() != tc.want {
				t.Fatalf("tracing = %v, want %v", tel.Tracing(), tc.want)
			}
		})
	}
	if _, err := New(context.Background(), Options{OTLPEndpoint: "x:1", OTLPProtocol: "carrier-pigeon", Getenv: env(nil)}); err == nil {
		t.Error("an unknown protocol was accepted")
	}
}

// A client span carries the trace context to the provider and keeps no
// query value (an API key injected as a query parameter).
func TestClientSpanRedactsAndPropagates(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("traceparent")
	}))
	defer srv.Close()
	exp := tracetest.NewInMemoryExporter()
	tel, err := New(context.Background(), Options{SpanExporter: exp, Sampler: sdktrace.AlwaysSample(), Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tel.Tracer().Start(context.Background(), "parent")
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/me?api_key=SENTINEL-KEY&x=1", nil)
	req.SetBasicAuth("user", "SENTINEL-PASS")
	resp, err := tel.Client(srv.Client()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	span.End()
	if !strings.Contains(got, span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q does not carry the trace", got)
	}
	for _, s := range exp.GetSpans() {
		for _, a := range s.Attributes {
			if v := a.Value.String(); strings.Contains(v, "SENTINEL") {
				t.Errorf("span %q %s = %s", s.Name, a.Key, v)
			}
		}
	}
	if n := len(exp.GetSpans()); n != 2 {
		t.Errorf("%d spans, want parent and client", n)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@h.example/a/b?code=c&state=s#frag": "https://h.example/a/b?code=REDACTED&state=REDACTED",
		"https://h.example/a":                           "https://h.example/a",
		"::bad":                                         "REDACTED",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A fan-out call is a child span of the request's span with the provider,
// connection and outcome, and is counted by provider.
func TestFanoutCall(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := New(context.Background(), Options{SpanExporter: exp, Sampler: sdktrace.AlwaysSample(), Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := tel.Tracer().Start(context.Background(), "GET /v1/events")
	_, end := tel.StartFanoutCall(ctx, "google", "con_1")
	end(nil)
	_, end = tel.StartFanoutCall(ctx, "google", "con_2")
	end(errors.New("google answered 503"))
	parent.End()
	var calls int
	for _, s := range exp.GetSpans() {
		if s.Name != "broker.events.call" {
			continue
		}
		calls++
		if s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Error("a fan-out span is not a child of the request's span")
		}
	}
	if calls != 2 {
		t.Fatalf("%d fan-out spans, want 2", calls)
	}
	w := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	if !strings.Contains(body, `broker_events_fanout_failures_total{provider="google"} 1`) ||
		!strings.Contains(body, `broker_events_fanout_duration_seconds_count{provider="google"} 2`) {
		t.Errorf("fan-out metrics:\n%s", body)
	}
	if strings.Contains(body, "con_1") {
		t.Error("a connection id became a label")
	}
}
