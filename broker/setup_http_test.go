package broker_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
)

type envelope struct {
	Error struct{ Code, Message string }
}

func decodeEnvelope(t *testing.T, w *httptest.ResponseRecorder) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %s: not the error envelope: %v", w.Code, w.Body, err)
	}
	if w.Header().Get("X-Broker-Error") != e.Error.Code {
		t.Fatalf("X-Broker-Error %q, envelope code %q", w.Header().Get("X-Broker-Error"), e.Error.Code)
	}
	return e
}

// /proxy/{id} without the slash is the broker's 404 envelope saying what is
// missing, not Gin's 301/307 redirect (whose HTML body is Gin's, and which
// would send a POST's body to another URL); no trailing-slash redirect
// anywhere else either.
func TestProxyWithoutSlashAnswersTheEnvelope(t *testing.T) {
	h := newBroker(t, nil)
	for _, method := range []string{"GET", "POST", "PROPFIND"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/proxy/con_abc", strings.NewReader("{}")))
		e := decodeEnvelope(t, w)
		if w.Code != http.StatusNotFound || e.Error.Code != "not_found" || w.Header().Get("Location") != "" ||
			!strings.Contains(e.Error.Message, "add a / after the connection id") {
			t.Fatalf("%s /proxy/con_abc: %d %v Location=%q", method, w.Code, e, w.Header().Get("Location"))
		}
	}
	// Not validated against docs/openapi.yaml, which does not list 404 for
	// a route that exists without the slash.
	w := httptest.NewRecorder()
	newEngine(t, nil).ServeHTTP(w, httptest.NewRequest("GET", "/v1/providers/", nil))
	if e := decodeEnvelope(t, w); w.Code != http.StatusNotFound || e.Error.Message != "no such endpoint" || w.Header().Get("Location") != "" {
		t.Fatalf("GET /v1/providers/: %d %v", w.Code, e)
	}
	// With the slash it is the proxy route: authentication answers first.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/proxy/con_abc/", nil))
	if e := decodeEnvelope(t, w); w.Code != http.StatusUnauthorized || e.Error.Code != "unauthenticated" {
		t.Fatalf("GET /proxy/con_abc/: %d %v", w.Code, e)
	}
}

// Over security.rateLimits.browser a browser gets the broker's own page
// and an API client the envelope, both 429 with Retry-After: on the
// connect page, the OAuth routes and the demo provider's pages.
func TestBrowserRateLimitAnswersThePageOrTheEnvelope(t *testing.T) {
	h := newBroker(t, func(c *config.Config) {
		c.Demo = true
		c.Security.RateLimits.Browser = config.Rate{Per: time.Minute, Events: 2}
	})
	for i, path := range []string{"/connect/ses_unknown", "/oauth/start/ses_unknown", "/oauth/callback", "/demo/authorize"} {
		t.Run(path, func(t *testing.T) {
			send := func(accept string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("GET", path, nil)
				r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", i+1) // the browser routes share one limit per address
				r.Header.Set("Accept", accept)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
			for i := 0; i < 2; i++ {
				if w := send(browser); w.Code == http.StatusTooManyRequests {
					t.Fatalf("request %d limited under the limit", i+1)
				}
			}
			w := send(browser)
			body := w.Body.String()
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
				!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
				!strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") ||
				!strings.Contains(body, "<h1>Too many requests</h1>") || w.Header().Get("X-Broker-Error") != "rate_limited" {
				t.Fatalf("browser over the limit: %d %v\n%s", w.Code, w.Header(), body)
			}
			w = send("application/json")
			if e := decodeEnvelope(t, w); w.Code != http.StatusTooManyRequests || e.Error.Code != "rate_limited" || w.Header().Get("Retry-After") == "" {
				t.Fatalf("API client over the limit: %d %v", w.Code, e)
			}
		})
	}
}

// An admin token sent to an app route is told it is the admin token; any
// other token gets the one answer that tells nothing.
func TestAdminTokenOnAppRouteIsToldSo(t *testing.T) {
	admin, read := "adm_"+strings.Repeat("a", 40), "rdo_"+strings.Repeat("r", 40)
	h := newBroker(t, func(c *config.Config) {
		c.Security.AdminToken, c.Security.AdminReadToken = admin, read
	})
	send := func(header, value string) (int, envelope) {
		r := httptest.NewRequest("GET", "/v1/providers", nil)
		r.Header.Set(header, value)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, decodeEnvelope(t, w)
	}
	for _, tc := range []struct{ header, value string }{
		{"Authorization", "Bearer " + admin}, {"Authorization", "Bearer " + read}, {"X-Api-Key", admin},
	} {
		code, e := send(tc.header, tc.value)
		if code != http.StatusUnauthorized || e.Error.Code != "unauthenticated" ||
			!strings.Contains(e.Error.Message, "this is the admin token") || !strings.Contains(e.Error.Message, "X-Api-Key") {
			t.Errorf("%s with an admin token: %d %v", tc.header, code, e)
		}
	}
	for _, tc := range []struct{ header, value string }{
		{"Authorization", "Bearer " + admin + "x"}, {"X-Api-Key", "bks_nope"}, {"Authorization", "Bearer "},
	} {
		code, e := send(tc.header, tc.value)
		if code != http.StatusUnauthorized || e.Error.Message != "missing or invalid credentials" {
			t.Errorf("%s %q: %d %v", tc.header, tc.value, code, e)
		}
	}
}
