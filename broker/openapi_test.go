package broker_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oauthbroker/broker/broker/demo"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/docs"
	"github.com/oauthbroker/broker/docs/openapitest"
)

// docs/openapi.yaml is a valid OpenAPI 3.1 document.
func TestOpenAPIIsValid(t *testing.T) {
	openapitest.CheckDocument(t)
	if m := openapitest.Model(t); !strings.HasPrefix(m.Version, "3.1") {
		t.Errorf("openapi %s, want 3.1", m.Version)
	}
}

// specOps is every (method, path) of docs/openapi.yaml, with the methods a
// path item lists in x-broker-methods (WebDAV methods OpenAPI cannot name).
func specOps(t *testing.T) map[string][]string {
	t.Helper()
	m := openapitest.Model(t)
	out := map[string][]string{}
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out[path] = append(out[path], strings.ToUpper(method))
		}
		if n, ok := item.Extensions.Get("x-broker-methods"); ok {
			var extra []string
			if err := n.Decode(&extra); err != nil {
				t.Fatalf("%s x-broker-methods: %v", path, err)
			}
			out[path] = append(out[path], extra...)
		}
	}
	return out
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z]+)`)

// Every route of the router is in docs/openapi.yaml, and every path and
// method there is served: by the router, or (under /demo/) by the demo
// provider's own mux.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	spec := specOps(t)
	engine := newEngine(t, func(c *config.Config) { c.Demo = true })

	served := map[string][]string{} // OpenAPI form of each router path → methods
	for _, r := range engine.Routes() {
		if r.Path == demo.Path+"/*path" {
			continue // the demo's own mux, checked below
		}
		p := ginParam.ReplaceAllString(r.Path, "{$1}")
		served[p] = append(served[p], r.Method)
		if !slices.Contains(spec[p], r.Method) {
			t.Errorf("docs/openapi.yaml misses %s %s", r.Method, p)
		}
	}

	mux, ok := demo.New(demo.Options{BaseURL: "http://127.0.0.1/demo", CallbackURL: "http://127.0.0.1/oauth/callback"}).Handler().(*http.ServeMux)
	if !ok {
		t.Fatal("the demo handler is no longer a ServeMux; check its paths another way")
	}
	for path, methods := range spec {
		for _, m := range methods {
			if rest, isDemo := strings.CutPrefix(path, demo.Path+"/"); isDemo {
				concrete := demo.Path + "/" + strings.ReplaceAll(rest, "{path}", "users/me/calendarList")
				_, pattern := mux.Handler(httptest.NewRequest(m, concrete, nil))
				if pattern == "" || pattern == "/" {
					t.Errorf("docs/openapi.yaml: %s %s is not served by the demo", m, path)
				}
				continue
			}
			if !slices.Contains(served[path], m) {
				t.Errorf("docs/openapi.yaml: %s %s is not a route", m, path)
			}
		}
	}
}

// GET /openapi.yaml serves the file, and it parses as YAML.
func TestOpenAPIIsServed(t *testing.T) {
	h := newBroker(t, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/openapi.yaml", nil))
	body, _ := io.ReadAll(w.Body)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/yaml") || string(body) != string(docs.OpenAPI) {
		t.Fatalf("status %d, type %q, %d bytes", w.Code, w.Header().Get("Content-Type"), len(body))
	}
	var v map[string]any
	if err := yaml.Unmarshal(body, &v); err != nil || v["openapi"] != "3.1.0" {
		t.Fatalf("not the document: %v", err)
	}
}
