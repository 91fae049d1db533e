package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"

	"github.com/oauthbroker/broker/broker/telemetry"
)

// exportedMetrics are the metric names /metrics really serves: every
// instrument of broker/telemetry is recorded once and the Prometheus output
// read back, so a renamed metric fails the dashboard and alert checks.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	tel, err := telemetry.New(context.Background(), telemetry.Options{Prometheus: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	ctx := context.Background()
	m := tel.Metrics()
	m.Refresh(ctx, "google", telemetry.RefreshOK)
	m.TokenCache(ctx, true)
	m.TokenCache(ctx, false)
	m.Connect(ctx, "google", telemetry.ConnectConnected)
	m.FanoutCall(ctx, "google", time.Millisecond, true)
	m.WebhookDelivery(ctx, telemetry.WebhookDelivered)
	if err := m.ObserveStore(
		func(context.Context) (map[string]int64, error) { return map[string]int64{"CONNECTED": 1}, nil },
		func(context.Context) (int64, time.Time, error) { return 1, time.Now(), nil }, time.Now); err != nil {
		t.Fatal(err)
	}
	// One server request and one client call through the real middleware.
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	resp, err := tel.Client(up.Client()).Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(tel.Server()...)
	e.GET("/v1/things/:id", func(c *gin.Context) { c.Status(500) })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/things/1", nil))
	w := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	names := map[string]bool{}
	for _, line := range strings.Split(w.Body.String(), "\n") {
		// Label names count too: a query's by (…) and {…} must name real ones.
		if i := strings.IndexByte(line, '{'); i > 0 && !strings.HasPrefix(line, "#") {
			for _, kv := range labelName.FindAllStringSubmatch(line[i:], -1) {
				names[kv[1]] = true
			}
		}
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			names[f[2]] = true
			switch f[3] {
			case "histogram":
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f[2]+s] = true
				}
			}
		}
	}
	if !names["broker_token_refreshes_total"] || !names["http_client_request_duration_seconds_bucket"] || !names["http_route"] {
		t.Fatalf("the exporter's output lacks what was recorded:\n%s", w.Body.String())
	}
	return names
}

var labelName = regexp.MustCompile(`[{,]([a-zA-Z_][a-zA-Z0-9_]*)="`)

var metricRef = regexp.MustCompile(`\b(?:broker|http)_[a-z0-9_]+\b`)

// checkExprs fails for an expression naming no metric or one the broker
// does not export.
func checkExprs(t *testing.T, where string, exprs []string, names map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no queries found", where)
	}
	for _, e := range exprs {
		refs := metricRef.FindAllString(e, -1)
		if len(refs) == 0 {
			t.Errorf("%s: %q names no broker metric", where, e)
		}
		for _, r := range refs {
			if !names[r] {
				t.Errorf("%s: %q uses %s, which the broker does not export", where, e, r)
			}
		}
	}
}

// Every query of the Grafana dashboard names a metric the broker exports.
func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("grafana/broker.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("broker.json: %v", err)
	}
	names := exportedMetrics(t)
	var exprs []string
	used := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			for _, r := range metricRef.FindAllString(tg.Expr, -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(r, "_bucket"), "_count"), "_sum")] = true
			}
		}
	}
	checkExprs(t, "grafana/broker.json", exprs, names)
	// And the dashboard shows every broker metric, so none is exported
	// for nobody.
	var missing []string
	for n := range names {
		if strings.HasPrefix(n, "broker_") && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") && !used[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard shows none of %v", missing)
	}
}

// The alert rules name exported metrics and, where promtool is installed
// (scripts/test installs Debian's prometheus package for it), pass
// promtool check rules.
func TestPrometheusAlerts(t *testing.T) {
	raw, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	alerts := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			alerts[r.Alert] = true
		}
	}
	checkExprs(t, "prometheus/alerts.yaml", exprs, exportedMetrics(t))
	for _, want := range []string{"BrokerRefreshFailures", "BrokerNeedsReauthGrowing", "BrokerWebhookBacklogOld", "BrokerEventsFailures"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found under CI=true: scripts/test installs Debian's prometheus package for it")
		}
		t.Log("promtool not installed: rules checked for metric names only (scripts/test installs it)")
		return
	}
	out, err := exec.Command(promtool, "check", "rules", "prometheus/alerts.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
