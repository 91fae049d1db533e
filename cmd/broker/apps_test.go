package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const appsTestAdmin = "apps-cli-admin-token-0123456789abcdef"

// runCLI runs the real command tree in-process, as `broker -c cfg args…`.
func runCLI(t *testing.T, cfg string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{out: &out, err: &errb}
	root := c.root()
	root.SetArgs(append([]string{"-c", cfg}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAppsCLIAppAuthenticatesOverHTTP(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, `
server:
  listen: 127.0.0.1:{{PORT}}
  publicUrl: http://localhost:{{PORT}}
  dataDir: `+filepath.Join(dir, "data")+`
security:
  adminToken: `+appsTestAdmin+`
`, port)

	out, err := runCLI(t, cfg, "apps", "create", "--name", "CLI Booking", "--domain", "Booking.Example.com",
		"--domain", "xn--bcher-kva.de", "--redirect-uri", "https://booking.example.com/cb", "--permission", "connections_read", "--json")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var created struct {
		App struct {
			ID             string   `json:"id"`
			AllowedDomains []string `json:"allowedDomains"`
			Permissions    []string `json:"permissions"`
		} `json:"app"`
		ClientSecret  string `json:"clientSecret"`
		WebhookSecret string `json:"webhookSecret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json printed %q: %v", out, err)
	}
	id, secret := created.App.ID, created.ClientSecret
	if !strings.HasPrefix(secret, "bks_") || !strings.HasPrefix(created.WebhookSecret, "whsec_") ||
		strings.Join(created.App.AllowedDomains, ",") != "booking.example.com,xn--bcher-kva.de" ||
		strings.Join(created.App.Permissions, ",") != "CONNECTIONS_READ" {
		t.Fatalf("created %+v", created)
	}

	t.Run("refusals name the field", func(t *testing.T) {
		for _, tc := range []struct{ args, want string }{
			{"--domain co.uk", "allowedDomains[0]"},
			{"--domain x.example.com --domain https://y.example.com", "allowedDomains[1]"},
			{"--redirect-uri http://evil.example.com/cb", "allowedRedirectUris[0]"},
			{"--permission ADMIN", "permissions[0]"},
		} {
			args := append([]string{"apps", "create", "--name", "ok"}, strings.Fields(tc.args)...)
			if _, err := runCLI(t, cfg, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err %v, want one naming %s", tc.args, err, tc.want)
			}
		}
		if _, err := runCLI(t, cfg, "apps", "create"); err == nil || !strings.Contains(err.Error(), "name") {
			t.Errorf("create without --name: %v", err)
		}
	})

	t.Run("get and list never show a secret", func(t *testing.T) {
		for _, args := range [][]string{{"apps", "get", id}, {"apps", "get", id, "--json"}, {"apps", "list"}, {"apps", "list", "--json"}} {
			out, err := runCLI(t, cfg, args...)
			if err != nil || !strings.Contains(out, id) || strings.Contains(out, secret) || strings.Contains(out, "bks_") || strings.Contains(out, "whsec_") {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
		if _, err := runCLI(t, cfg, "apps", "get", "app_aaaaaaaaaaaaaaaaaaaaaaaaaa"); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("get missing: %v", err)
		}
	})

	out, err = runCLI(t, cfg, "apps", "rotate-secret", id)
	if err != nil {
		t.Fatal(err)
	}
	rotated := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "bks_") {
			rotated = f
		}
	}
	if rotated == "" || rotated == secret {
		t.Fatalf("rotate-secret printed %q", out)
	}

	// The app made by the CLI authenticates against a running broker on the
	// same data directory; the secret replaced by rotate-secret does not.
	p := startBroker(t, dir, cfg, port)
	var conns map[string]any
	if r := callKey(t, "GET", p.URL+"/v1/connections", rotated, nil, &conns); r.StatusCode != http.StatusOK {
		t.Fatalf("CLI app over HTTP: %d %v", r.StatusCode, conns)
	}
	if r := call(t, "GET", p.URL+"/v1/connections", "Basic "+basicAuth(id, rotated), nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("CLI app over HTTP with Basic: %d", r.StatusCode)
	}
	if r := callKey(t, "GET", p.URL+"/v1/connections", secret, nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("secret replaced by rotate-secret: %d", r.StatusCode)
	}
	var got struct {
		App struct{ Name string } `json:"app"`
	}
	if r := call(t, "GET", p.URL+"/v1/apps/"+id, "Bearer "+appsTestAdmin, nil, &got); r.StatusCode != 200 || got.App.Name != "CLI Booking" {
		t.Fatalf("admin GET of the CLI app: %d %+v", r.StatusCode, got)
	}
	// `apps get --json` prints the admin API's shape, field for field.
	var viaAPI, viaCLI struct {
		App map[string]any `json:"app"`
	}
	call(t, "GET", p.URL+"/v1/apps/"+id, "Bearer "+appsTestAdmin, nil, &viaAPI)
	out, err = runCLI(t, cfg, "apps", "get", id, "--json")
	if err != nil || json.Unmarshal([]byte(out), &viaCLI) != nil || len(viaAPI.App) == 0 {
		t.Fatalf("apps get --json: %v %s", err, out)
	}
	if a, c := slices.Sorted(maps.Keys(viaAPI.App)), slices.Sorted(maps.Keys(viaCLI.App)); !slices.Equal(a, c) {
		t.Fatalf("apps get --json fields %v, admin API fields %v", c, a)
	}

	out, err = runCLI(t, cfg, "apps", "delete", id)
	if err != nil || !strings.Contains(out, id) {
		t.Fatalf("delete: %v %s", err, out)
	}
	if r := call(t, "GET", p.URL+"/v1/apps/"+id, "Bearer "+appsTestAdmin, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("admin GET after CLI delete: %d", r.StatusCode)
	}
	if _, err := runCLI(t, cfg, "apps", "delete", id); err == nil {
		t.Fatal("second delete succeeded")
	}
}

func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}
