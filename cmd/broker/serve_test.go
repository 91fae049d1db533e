package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
)

// shippedConfig is the repository's broker.yaml with only the listen port
// changed, so the test serves what a fresh clone serves.
func shippedConfig(t *testing.T, port int) string {
	t.Helper()
	b, err := os.ReadFile("../../broker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s*listen:\s*).*$`)
	if !re.Match(b) {
		t.Fatal("broker.yaml has no server.listen line")
	}
	return re.ReplaceAllString(string(b), "${1}127.0.0.1:{{PORT}}")
}

func TestShippedConfigListensOnLoopback8080(t *testing.T) {
	cfg, err := config.Load("../../broker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Store.Driver != "sqlite" || cfg.Server.Production {
		t.Fatalf("shipped config: listen %q driver %q production %v", cfg.Server.Listen, cfg.Store.Driver, cfg.Server.Production)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("shipped config does not validate with no environment: %v", err)
	}
}

func readDevSecrets(t *testing.T, dir string) (map[string]string, os.FileMode) {
	t.Helper()
	path := filepath.Join(dir, "data", "dev-secrets.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("development secrets not generated: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, fi.Mode().Perm()
}

func TestServeFreshCloneWithDevelopmentKeys(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, shippedConfig(t, port), port)
	p := startBroker(t, dir, cfg, port)

	if _, err := os.Stat(filepath.Join(dir, "data", "broker.db")); err != nil {
		t.Fatalf("data/broker.db not created: %v", err)
	}
	dev, mode := readDevSecrets(t, dir)
	if mode != 0o600 {
		t.Fatalf("dev-secrets.json mode %o, want 600", mode)
	}
	if !strings.Contains(p.Stderr.String(), "DEVELOPMENT KEYS") {
		t.Fatalf("no loud development-key warning in:\n%s", p.Stderr)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := call(t, "GET", p.URL+path, "", nil, nil); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, r.StatusCode)
		}
	}
	// A request id sent by the caller is kept; one is made up otherwise.
	req, _ := http.NewRequest("GET", p.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "trace-abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "trace-abc-123" {
		t.Fatalf("X-Request-Id %q, want the caller's", got)
	}
	if r := call(t, "GET", p.URL+"/healthz", "", nil, nil); r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id generated")
	}
	// The generated admin token works, and survives a restart unchanged.
	admin := "Bearer " + dev["adminToken"]
	if r := call(t, "POST", p.URL+"/v1/apps/query", admin, map[string]any{}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("admin call with the development token: %d", r.StatusCode)
	}
	if err := <-p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: exit %v\n%s", err, p.Stderr)
	}
	p2 := startBroker(t, dir, cfg, port)
	dev2, _ := readDevSecrets(t, dir)
	if dev2["encryptionKey"] != dev["encryptionKey"] || dev2["adminToken"] != dev["adminToken"] {
		t.Fatal("development keys changed across a restart: stored tokens would be lost")
	}
	if r := call(t, "POST", p2.URL+"/v1/apps/query", admin, map[string]any{}, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("admin token after restart: %d", r.StatusCode)
	}
}

func TestProductionRefusesDevelopmentKeys(t *testing.T) {
	cases := map[string]string{
		"no keys at all": `
server: {listen: "127.0.0.1:{{PORT}}", publicUrl: "https://broker.example.com", production: true}
`,
		"keys but no admin token": `
server: {listen: "127.0.0.1:{{PORT}}", publicUrl: "https://broker.example.com", production: true}
security:
  stateKeys: [{id: s1, secret: "0123456789abcdef0123456789abcdef"}]
  encryptionKeys: [{id: e1, key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}]
`,
	}
	for name, yaml := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := writeConfig(t, dir, yaml, port)
			_, stderr, err := runBroker(t, dir, nil, "serve", "-c", cfg)
			if err == nil {
				t.Fatal("production started without its secrets")
			}
			if !strings.Contains(stderr, "production") {
				t.Fatalf("refusal does not say why:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "data", "dev-secrets.json")); err == nil {
				t.Fatal("production generated development keys")
			}
		})
	}
}

// TestSIGTERMDrainsInFlight: a proxied call that is still running when the
// broker gets SIGTERM completes; the broker then exits cleanly.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(1500 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"slow":true}`))
	}))
	defer slow.Close()

	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, `
server:
  listen: 127.0.0.1:{{PORT}}
  publicUrl: http://127.0.0.1:{{PORT}}
  allowInsecureLoopback: true
  shutdownGrace: 10s
providers:
  slowapi:
    kind: apikey
    name: Slow API
    apiBaseUrl: `+slow.URL+`/api
    inject: {type: header, name: X-Key}
`, port)
	p := startBroker(t, dir, cfg, port)
	dev, _ := readDevSecrets(t, dir)
	appID, secret := createApp(t, p.URL, "Bearer "+dev["adminToken"])
	connID := connectAPIKey(t, p.URL, secret, "slowapi", "sched-1", "key-123")
	_ = appID

	res := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("GET", p.URL+"/proxy/"+connID+"/events", nil)
		req.Header.Set("X-Api-Key", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight request failed: %v", err)
			res <- nil
			return
		}
		res <- resp
	}()
	<-started
	exited := p.Signal(syscall.SIGTERM)
	resp := <-res
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("in-flight request during drain: %d", resp.StatusCode)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after drain: %v\n%s", err, p.Stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("broker did not exit after draining")
	}
}

// createApp creates an app through the admin API and returns its id and secret.
func createApp(t *testing.T, base, admin string) (string, string) {
	t.Helper()
	var out struct {
		App          struct{ ID string }
		ClientSecret string
	}
	r := call(t, "POST", base+"/v1/apps", admin, map[string]any{"app": map[string]any{
		"name": "Test booking app", "allowedDomains": []string{"app.example.com"},
	}}, &out)
	if r.StatusCode != http.StatusCreated || out.ClientSecret == "" {
		t.Fatalf("create app: %d", r.StatusCode)
	}
	return out.App.ID, out.ClientSecret
}

// connectAPIKey connects an API-key provider and returns the connection id.
func connectAPIKey(t *testing.T, base, secret, provider, schedule, key string) string {
	t.Helper()
	var out struct{ Connection struct{ ID string } }
	req := map[string]any{"providerId": provider, "scheduleId": schedule, "credentials": map[string]any{"apiKey": key}}
	resp := callKey(t, "POST", base+"/v1/connect/credentials", secret, req, &out)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("connect credentials: %d", resp.StatusCode)
	}
	return out.Connection.ID
}
