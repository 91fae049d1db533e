package api

import (
	"net/http"
	"strings"
	"testing"
)

// Every URL an app registers that the broker later calls or shows is an
// SSRF target (docs/security.md §21): internal addresses in any spelling,
// *.localhost, metadata names and invalid ports are refused on create and
// on update, and nothing is stored.
func TestAppURLsRefuseInternalTargets(t *testing.T) {
	h := newHarness(t)
	targets := []string{
		"https://169.254.169.254/latest/meta-data/", "http://127.0.0.1:2375/", "https://[::ffff:127.0.0.1]/",
		"https://2130706433/", "https://0x7f000001/", "https://0177.0.0.1/", "https://127.1/", "https://10.0.0.1/",
		"https://100.64.0.1/", "https://[fe80::1]/", "https://[fd00:ec2::254]/", "https://0.0.0.0/",
		"https://metadata.google.internal/", "https://app.localhost/", "https://localhost/",
		"https://example.com:0/", "https://example.com:99999/",
	}
	fields := []string{"webhookUrl", "logoUrl", "homepageUrl", "loginUrl", "logoutUrl"}
	ok := h.create(map[string]any{"name": "victim"})
	for _, f := range fields {
		for _, target := range targets {
			r := h.admin("POST", "/v1/apps", map[string]any{"app": map[string]any{"name": "ssrf", f: target}})
			code, field, _ := r.errorOf(t)
			if r.status != http.StatusBadRequest || code != "invalid_argument" || field != "app."+f {
				t.Errorf("create %s=%s: %d %s %s, want 400 invalid_argument on app.%s", f, target, r.status, code, field, f)
			}
			r = h.admin("PATCH", "/v1/apps/"+ok.ID, map[string]any{"app": map[string]any{f: target}, "mask": map[string]any{"paths": []string{f}}})
			if r.status != http.StatusBadRequest {
				t.Errorf("update %s=%s: %d %s, want 400", f, target, r.status, r.body)
			}
		}
	}
	g := h.admin("GET", "/v1/apps/"+ok.ID, nil)
	for _, target := range targets {
		if strings.Contains(string(g.body), target) {
			t.Errorf("a refused URL was stored: %s", g.body)
		}
	}
	// Public https URLs still pass.
	if r := h.admin("POST", "/v1/apps", map[string]any{"app": map[string]any{"name": "fine", "webhookUrl": "https://hooks.example.com/x", "logoUrl": "https://cdn.example.com/l.png"}}); r.status != http.StatusCreated {
		t.Errorf("public URLs refused: %d %s", r.status, r.body)
	}
}

// An empty permission list grants nothing; only an omitted one takes the
// default (docs/security.md §22).
func TestEmptyPermissionsGrantNothing(t *testing.T) {
	h := newHarness(t)
	c := h.create(map[string]any{"name": "nothing", "permissions": []string{}})
	if got := c.App["permissions"]; got == nil || len(got.([]any)) != 0 {
		t.Fatalf("permissions = %v, want []", got)
	}
	d := h.create(map[string]any{"name": "default"})
	if got := c.App["permissions"]; len(d.App["permissions"].([]any)) != 4 {
		t.Fatalf("omitted permissions = %v, want all four", got)
	}
}
