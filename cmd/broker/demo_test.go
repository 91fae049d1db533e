package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The demo is refused in production the same way whichever way it is asked
// for, and check-config says exactly what serve says.
func TestDemoRefusedInProductionByServeAndCheckConfig(t *testing.T) {
	dir := t.TempDir()
	const prod = `
server: {production: true, publicUrl: "https://broker.example.com", listen: "127.0.0.1:{{PORT}}"}
security:
  adminToken: "0123456789abcdef0123456789abcdef"
  stateKeys: [{id: s1, secret: "0123456789abcdef0123456789abcdef0123456789abcdef"}]
  encryptionKeys: [{id: e1, key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}]
`
	cfg := writeConfig(t, dir, prod, freePort(t))
	if _, stderr, err := runBroker(t, dir, nil, "check-config", "-c", cfg); err != nil {
		t.Fatalf("the production config itself must pass: %v\n%s", err, stderr)
	}
	for _, args := range [][]string{{"check-config", "--demo"}, {"serve", "--demo"}} {
		_, stderr, err := runBroker(t, dir, nil, append(args, "-c", cfg)...)
		if err == nil || !strings.Contains(stderr, "demo: refused in production") {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
	}
	cfg = writeConfig(t, dir, prod+"demo: true\n", freePort(t))
	for _, cmd := range []string{"check-config", "serve"} {
		_, stderr, err := runBroker(t, dir, nil, cmd, "-c", cfg)
		if err == nil || !strings.Contains(stderr, "demo: refused in production") {
			t.Fatalf("%s with demo: true: %v\n%s", cmd, err, stderr)
		}
	}
}

// serve with the demo on prints a demo app whose credentials work, and the
// demo provider is offered to it.
func TestServeDemoPrintsWorkingCredentials(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, `
server: {listen: "127.0.0.1:{{PORT}}", publicUrl: "http://127.0.0.1:{{PORT}}", dataDir: ./data}
demo: true
`, port)
	p := startBroker(t, dir, cfg, port)
	re := regexp.MustCompile(`CLIENT_ID=(\S+)\s+export CLIENT_SECRET=(\S+)`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = re.FindStringSubmatch(p.Stderr.String())
	}
	if m == nil {
		t.Fatalf("no demo credentials printed:\n%s", p.Stderr)
	}
	var out struct {
		Providers []struct{ ID string } `json:"providers"`
	}
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/providers", nil)
	req.SetBasicAuth(m[1], m[2])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("printed credentials: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Providers) == 0 || out.Providers[0].ID != "demo" {
		t.Fatalf("providers %+v %v", out, err)
	}
	if strings.Contains(p.Stderr.String(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", p.Stderr)
	}
}
