package broker_test

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/config"
)

var routeParam = regexp.MustCompile(`[:*][A-Za-z]+`)

// Every answer of every route, whoever asks and whatever it says (an error
// envelope quoting the caller's input, the OpenAPI YAML, the metrics text,
// the demo's pages, an unknown path), carries X-Content-Type-Options:
// nosniff, so a browser never runs one as a page of the broker's origin.
func TestEveryAnswerIsNoSniff(t *testing.T) {
	e := newEngine(t, func(c *config.Config) {
		c.Demo = true
		c.Telemetry.Prometheus = true
	})
	targets := []string{"/no/such/<b>x</b>", "/v1/events?%3Cscript%3E=1"}
	for _, r := range e.Routes() {
		path := routeParam.ReplaceAllString(r.Path, "x")
		for _, auth := range []string{"", "Bearer nope", "Basic bm9wZTpub3Bl"} {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(r.Method, path, strings.NewReader("{}"))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			e.ServeHTTP(w, req)
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s (%q): %d with X-Content-Type-Options %q", r.Method, path, auth, w.Code, got)
			}
		}
	}
	for _, target := range targets {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: %d with X-Content-Type-Options %q", target, w.Code, got)
		}
	}
}
