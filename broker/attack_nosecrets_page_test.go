package broker_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// What an end user types into the hosted page never leaves the process:
// a wrong password, a right one the provider could not check (502, logged
// at warn), and the right one that connects and then reads the calendar
// through the CalDAV adapter appear in no log line (debug, text and JSON),
// span or metric, and never in the page's URL or a redirect.
func TestHostedPagePasswordsStayInside(t *testing.T) {
	const (
		wrong = "SENTINELwrongPasswordXXXX"
		right = "SENTINELrightPasswordXXXX"
	)
	dav := caldavtest.NewServer(t, "ada@example.com", right)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := testConfig(t, func(c *config.Config) {
		c.Server.PublicURL = base
		c.Server.AllowInsecureLoopback = true
		c.Log = config.Log{Level: "debug", Format: "json"}
		c.Providers = map[string]providers.Spec{"caldav": {APIBaseURL: dav.URL + "/"}}
	})
	var text, js syncBuffer
	debug := &slog.HandlerOptions{Level: slog.LevelDebug}
	logger := slog.New(middleware.NewRequestIDHandler(teeHandler{
		slog.NewTextHandler(&text, debug), slog.NewJSONHandler(&js, debug)}))
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.New(context.Background(), telemetry.Options{Prometheus: true, SpanExporter: exp, Sampler: sdktrace.AlwaysSample()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: logger, Telemetry: tel})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	const redirect = "http://localhost:9/done"
	created := send(t, base, "POST", "/v1/apps", cfg.Security.AdminToken, fmt.Sprintf(`{"app":{"name":"Booking","allowedRedirectUris":[%q]}}`, redirect))
	var app struct{ ClientSecret string }
	if created.code != 201 || json.Unmarshal([]byte(created.body), &app) != nil {
		t.Fatalf("create app: %d %s", created.code, created.body)
	}
	key := "key:" + app.ClientSecret
	started := send(t, base, "POST", "/v1/connect/sessions", key, fmt.Sprintf(`{"scheduleId":"s1","redirectUrl":%q,"providers":["caldav"]}`, redirect))
	var sess struct{ ConnectURL string }
	if started.code != 200 || json.Unmarshal([]byte(started.body), &sess) != nil {
		t.Fatalf("connect session: %d %s", started.code, started.body)
	}
	br := newBrowser(t)
	var seen []string // every URL the browser was sent to
	br.c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		seen = append(seen, r.URL.String())
		br.last = r.URL
		return http.ErrUseLastResponse
	}
	_, body, _ := br.do("GET", sess.ConnectURL+"?provider=caldav", nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form:\n%s", body)
	}
	post := func(pw string) (int, string) {
		code, body, _ := br.do("POST", sess.ConnectURL, url.Values{"csrf": {m[1]}, "provider": {"caldav"},
			"username": {"ada@example.com"}, "password": {pw}})
		return code, body
	}
	if code, body := post(wrong); code != 400 || strings.Contains(body, wrong) {
		t.Fatalf("wrong password: %d (echoed: %v)", code, strings.Contains(body, wrong))
	}
	dav.FailNext(http.StatusServiceUnavailable)
	if code, body := post(right); code != http.StatusBadGateway || strings.Contains(body, right) {
		t.Fatalf("unreachable provider: %d (echoed: %v)", code, strings.Contains(body, right))
	}
	if code, _ := post(right); code != http.StatusSeeOther || br.last == nil || br.last.Query().Get("connectionId") == "" {
		t.Fatalf("right password: %d at %v", code, br.last)
	}
	now := time.Now()
	if a := send(t, base, "GET", "/v1/events?scheduleId=s1&from="+now.Add(-time.Hour).UTC().Format(time.RFC3339)+
		"&to="+now.Add(time.Hour).UTC().Format(time.RFC3339), key, ""); a.code != 200 {
		t.Fatalf("events: %d %s", a.code, a.body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	var spans strings.Builder
	for _, s := range exp.GetSpans() {
		fmt.Fprintf(&spans, "span %q status %q\n", s.Name, s.Status.Description)
		for _, a := range s.Attributes {
			fmt.Fprintf(&spans, "  %s=%s\n", a.Key, a.Value.String())
		}
		for _, e := range s.Events {
			for _, a := range e.Attributes {
				fmt.Fprintf(&spans, "  event %s %s=%s\n", e.Name, a.Key, a.Value.String())
			}
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte("ada@example.com:" + right))
	for _, out := range []struct{ name, body string }{
		{"text log", text.String()}, {"JSON log", js.String()}, {"spans", spans.String()},
		{"/metrics", string(metrics)}, {"URLs", strings.Join(append(seen, sess.ConnectURL), "\n")},
	} {
		if out.body == "" {
			t.Errorf("%s: captured nothing", out.name)
		}
		for what, v := range map[string]string{"wrong password": wrong, "right password": right, "Basic credential": basic} {
			if i := strings.Index(out.body, v); i >= 0 {
				t.Errorf("the %s appears in the %s: …%s…", what, out.name, out.body[max(i-200, 0):min(i+len(v)+100, len(out.body))])
			}
		}
	}
	if !strings.Contains(js.String(), "credentials test failed") {
		t.Errorf("the provider failure was not logged (the capture would prove nothing):\n%s", js.String())
	}
}
