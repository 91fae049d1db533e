package broker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/docs/openapitest"
)

// newBroker wires a broker on the defaults with development secrets in a
// temporary data directory, as a fresh clone does. Every answer it gives is
// validated against docs/openapi.yaml.
func newBroker(t *testing.T, edit func(*config.Config)) http.Handler {
	t.Helper()
	return openapitest.Wrap(t, newEngine(t, edit))
}

// newEngine is newBroker's router itself, for tests that read its routes.
func newEngine(t *testing.T, edit func(*config.Config)) *gin.Engine {
	t.Helper()
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Store.DSN = ""
	cfg.Refresh.KeepAlive.Enabled = false
	if edit != nil {
		edit(cfg)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := broker.PrepareSecrets(cfg, quiet); err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b.Handler().(*gin.Engine)
}

// The browser rate limit is keyed by the client's address; a client must
// not be able to choose that address with X-Forwarded-For unless it comes
// through a configured trusted proxy.
func TestBrowserRateLimitIgnoresForgedForwardedFor(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		want429 bool
	}{
		{"no trusted proxies: the peer address counts", nil, true},
		{"the peer is a trusted proxy: its X-Forwarded-For counts", []string{"192.0.2.0/24"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newBroker(t, func(c *config.Config) {
				c.Server.TrustedProxies = tc.trusted
				c.Security.RateLimits.Browser = config.Rate{Per: 1e9, Events: 5} // 5/s
			})
			limited := false
			for i := 0; i < 30; i++ {
				r := httptest.NewRequest("GET", "/oauth/start/ses_unknown", nil)
				r.RemoteAddr = "192.0.2.10:5555"
				r.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				limited = limited || w.Code == http.StatusTooManyRequests
			}
			if limited != tc.want429 {
				t.Fatalf("rate limited = %v, want %v", limited, tc.want429)
			}
		})
	}
}

func TestNewRefusesBadTrustedProxies(t *testing.T) {
	cfg := config.Default()
	cfg.Server.TrustedProxies = []string{"10.0.0.0/8", "not-an-ip"}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("a bad trusted proxy validated")
	}
	if want := `server.trustedProxies[1]: "not-an-ip" is not an IP address or CIDR`; !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// Every answer is the error envelope, an unknown path or method included.
func TestUnknownRouteAnswersTheEnvelope(t *testing.T) {
	h := newBroker(t, nil)
	for _, target := range []string{"/nope", "/v1/unknown", "/proxy"} {
		for _, method := range []string{"GET", "TRACE"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
			var env struct{ Error struct{ Code string } }
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || w.Code != http.StatusNotFound || env.Error.Code != "not_found" || w.Header().Get("X-Broker-Error") != "not_found" {
				t.Fatalf("%s %s: %d %q", method, target, w.Code, w.Body.String())
			}
		}
	}
}
