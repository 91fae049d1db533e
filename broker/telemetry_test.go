package broker_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/config"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// By default /metrics is on the main listener and shows the HTTP server
// histogram by route template (never the raw path) and the store gauges.
func TestMetricsOnMainListener(t *testing.T) {
	h := newBroker(t, nil)
	get(t, h, "/healthz")
	get(t, h, "/no/such/path-sentinel")
	w := get(t, h, "/metrics")
	if w.Code != 200 {
		t.Fatalf("/metrics = %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		`http_server_request_duration_seconds_bucket{`,
		// The semantic conventions' buckets, not the SDK's defaults
		// (0, 5, 10, … 10000), although histograms keep no min and max.
		`le="0.005"}`,
		`le="7.5"}`,
		`http_route="/healthz"`,
		`broker_webhook_backlog`,
		`broker_webhook_oldest_pending_age_seconds`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `le="750"}`) {
		t.Error("a histogram has the SDK's default buckets")
	}
	if strings.Contains(body, "path-sentinel") {
		t.Error("an unmatched raw path became a label")
	}
}

func TestMetricsOff(t *testing.T) {
	h := newBroker(t, func(c *config.Config) { c.Telemetry.Prometheus = false })
	if w := get(t, h, "/metrics"); w.Code != http.StatusNotFound {
		t.Fatalf("/metrics with prometheus: false = %d", w.Code)
	}
}

// With telemetry.metricsListen the main listener has no /metrics; the
// metrics listener has it.
func TestMetricsListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // free the port for the broker's metrics listener
	cfg := testConfig(t, func(c *config.Config) { c.Telemetry.MetricsListen = addr })
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if w := get(t, b.Handler(), "/metrics"); w.Code != http.StatusNotFound {
		t.Fatalf("/metrics on the main listener = %d, want 404", w.Code)
	}
	main, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, main) }()
	defer func() { cancel(); <-done }()
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = http.Get("http://" + addr + "/metrics"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("broker_webhook_backlog")) {
		t.Fatalf("metrics listener: %d %.200s", resp.StatusCode, body)
	}
}

// A server span per request named "{method} {route}" with http.route; the
// caller's W3C trace context is continued; unknown paths are spanned and
// logged with the trace id, and never by their raw path.
func TestServerSpansAndAccessLog(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.New(context.Background(), telemetry.Options{Prometheus: true, SpanExporter: exp, Sampler: sdktrace.AlwaysSample()})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var logs bytes.Buffer
	cfg := testConfig(t, nil)
	b, err := broker.New(context.Background(), cfg, broker.Options{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	get(t, b.Handler(), "/healthz", "traceparent", parent)
	get(t, b.Handler(), "/no/such/secret-path")

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
		if strings.Contains(s.Name, "secret-path") {
			t.Errorf("span named by the raw path: %q", s.Name)
		}
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.String(), "secret-path") {
				t.Errorf("span %q attribute %s carries the raw path", s.Name, a.Key)
			}
		}
	}
	hz, ok := byName["GET /healthz"]
	if !ok {
		t.Fatalf("no span GET /healthz among %d spans", len(spans))
	}
	if got := hz.SpanContext.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s: the caller's traceparent was not continued", got)
	}
	route := ""
	for _, a := range hz.Attributes {
		if a.Key == "http.route" {
			route = a.Value.AsString()
		}
	}
	if route != "/healthz" {
		t.Errorf("http.route = %q", route)
	}
	if _, ok := byName["GET"]; !ok {
		t.Errorf("no span for the unmatched request (want name GET); have %v", keys(byName))
	}
	out := logs.String()
	if !strings.Contains(out, `"route":"unmatched"`) || !strings.Contains(out, `"status":404`) {
		t.Errorf("unmatched request not access-logged:\n%s", out)
	}
	if !strings.Contains(out, `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Errorf("access log lacks the trace id:\n%s", out)
	}
	if strings.Contains(out, "secret-path") {
		t.Error("the raw path was logged")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is newBroker's config, for tests that call broker.New themselves.
func testConfig(t *testing.T, edit func(*config.Config)) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Store.DSN = ""
	cfg.Refresh.KeepAlive.Enabled = false
	if edit != nil {
		edit(cfg)
	}
	if err := broker.PrepareSecrets(cfg, quietLogger()); err != nil {
		t.Fatal(err)
	}
	return cfg
}
