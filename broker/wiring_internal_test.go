package broker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/store/pgtest"
	"github.com/oauthbroker/broker/broker/store/postgres"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// wiring is one row of TestEveryKeyReachesItsComponent: a value other than
// the default for one broker.yaml key (zero where zero is allowed), and a
// check that the built broker's component runs with it.
type wiring struct {
	set   func(t *testing.T, c *config.Config)
	check func(t *testing.T, b *Broker, newErr error)
}

// Every broker.yaml key (config.Keys, walked from the Config struct, so a new
// key without a row fails here) reaches the component it configures, with
// the value given: nothing between config and component replaces it, zero
// included. The component's own view (its Options, the transport, the HTTP
// server) is read, not the config.
func TestEveryKeyReachesItsComponent(t *testing.T) {
	rows := wiringRows()
	for _, key := range config.Keys() {
		row, ok := rows[key]
		if !ok {
			t.Errorf("%s: no row; say which component it reaches and check it there", key)
			continue
		}
		delete(rows, key)
		t.Run(key, func(t *testing.T) {
			cfg := wiringConfig(t)
			row.set(t, cfg)
			b, err := New(t.Context(), cfg, Options{})
			if err == nil {
				t.Cleanup(func() { _ = b.Close() })
			}
			row.check(t, b, err)
		})
	}
	for key := range rows {
		t.Errorf("row %s names no key of config.Keys", key)
	}
}

// wiringConfig is the defaults with development secrets in a temporary data
// directory, as a fresh clone runs.
func wiringConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	if err := PrepareSecrets(cfg, nil); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func built(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func serve(t *testing.T, b *Broker, method, path, bearer string) int {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	b.Handler().ServeHTTP(w, r)
	return w.Code
}

func d(s string) config.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return config.Duration(v)
}

func rate(s string) config.Rate {
	r, err := config.ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

func wiringRows() map[string]wiring {
	const admin = "admin-token-for-the-wiring-test-0123456789"
	const reader = "read-token-for-the-wiring-test-0123456789"
	srv := func(f func(t *testing.T, s *http.Server)) func(*testing.T, *Broker, error) {
		return func(t *testing.T, b *Broker, err error) { built(t, err); f(t, b.httpServer()) }
	}
	return map[string]wiring{
		"server.listen": {
			set: func(t *testing.T, c *config.Config) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				c.Server.Listen = ln.Addr().String()
				ln.Close()
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- b.ListenAndServe(ctx) }()
				defer func() { cancel(); <-done }()
				for i := 0; ; i++ {
					resp, err := http.Get("http://" + b.cfg.Server.Listen + "/healthz")
					if err == nil {
						resp.Body.Close()
						equal(t, "GET /healthz on server.listen", resp.StatusCode, http.StatusOK)
						return
					}
					if i == 100 {
						t.Fatalf("nothing serves on server.listen: %v", err)
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
		},
		"server.publicUrl": {
			set: func(_ *testing.T, c *config.Config) { c.Server.PublicURL = "https://broker.example.com/base" },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "connect callback", b.deps.Connect.CallbackURL(), "https://broker.example.com/base/oauth/callback")
				equal(t, "proxy PublicURL", b.deps.Proxy.Options().PublicURL, "https://broker.example.com/base")
			},
		},
		"server.production": {
			// The production guard is New's: with it, plain http to
			// loopback is refused even when the key asks for it.
			set: func(_ *testing.T, c *config.Config) {
				c.Server.Production, c.Server.AllowInsecureLoopback = true, true
				c.Server.PublicURL = "https://broker.example.com"
				c.Security.AdminToken = admin
			},
			check: func(t *testing.T, _ *Broker, err error) {
				if err == nil || !strings.Contains(err.Error(), "server.allowInsecureLoopback: refused in production") {
					t.Fatalf("New = %v, want the production refusal", err)
				}
			},
		},
		"server.dataDir": {
			set: func(t *testing.T, c *config.Config) { c.Server.DataDir = filepath.Join(t.TempDir(), "elsewhere") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				if _, err := os.Stat(filepath.Join(b.cfg.Server.DataDir, config.DefaultSQLiteFile)); err != nil {
					t.Fatalf("the SQLite store is not in server.dataDir: %v", err)
				}
			},
		},
		"server.allowInsecureLoopback": {
			set: func(_ *testing.T, c *config.Config) {
				c.Server.AllowInsecureLoopback = true
				c.Providers = map[string]providers.Spec{"local": {Kind: providers.KindOAuth2, ClientID: "x", ClientSecret: "y",
					AuthURL: "http://127.0.0.1:9/auth", TokenURL: "http://127.0.0.1:9/token", APIBaseURL: "http://127.0.0.1:9/api"}}
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "webhooks AllowLoopback", b.webhooks.Options().AllowLoopback, true)
				equal(t, "apps AllowInsecureLoopback", b.deps.Apps.Options().AllowInsecureLoopback, true)
				equal(t, "connect AllowLoopbackLogos", b.deps.Connect.Options().AllowLoopbackLogos, true)
				if _, ok := b.tokens.Options().Providers.Get("local"); !ok {
					t.Error("a provider on plain http loopback was not resolved")
				}
			},
		},
		"server.shutdownGrace": {
			set: func(_ *testing.T, c *config.Config) { c.Server.ShutdownGrace = d("1500ms") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				var logs bytes.Buffer
				b.logger = slog.New(slog.NewTextHandler(&logs, nil))
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				if err := b.Serve(ctx, ln); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(logs.String(), "grace=1.5s") {
					t.Fatalf("the drain did not use server.shutdownGrace: %s", logs.String())
				}
			},
		},
		"server.readHeaderTimeout": {
			set:   func(_ *testing.T, c *config.Config) { c.Server.ReadHeaderTimeout = d("3s") },
			check: srv(func(t *testing.T, s *http.Server) { equal(t, "ReadHeaderTimeout", s.ReadHeaderTimeout, 3*time.Second) }),
		},
		"server.readTimeout": {
			set:   func(_ *testing.T, c *config.Config) { c.Server.ReadTimeout = d("7s") },
			check: srv(func(t *testing.T, s *http.Server) { equal(t, "ReadTimeout", s.ReadTimeout, 7*time.Second) }),
		},
		"server.writeTimeout": {
			set:   func(_ *testing.T, c *config.Config) { c.Server.WriteTimeout = d("45s") },
			check: srv(func(t *testing.T, s *http.Server) { equal(t, "WriteTimeout", s.WriteTimeout, 45*time.Second) }),
		},
		"server.idleTimeout": {
			set:   func(_ *testing.T, c *config.Config) { c.Server.IdleTimeout = d("9s") },
			check: srv(func(t *testing.T, s *http.Server) { equal(t, "IdleTimeout", s.IdleTimeout, 9*time.Second) }),
		},
		"server.maxHeaderBytes": {
			set:   func(_ *testing.T, c *config.Config) { c.Server.MaxHeaderBytes = 8 << 10 },
			check: srv(func(t *testing.T, s *http.Server) { equal(t, "MaxHeaderBytes", s.MaxHeaderBytes, 8<<10) }),
		},
		"server.trustedProxies": {
			set: func(_ *testing.T, c *config.Config) { c.Server.TrustedProxies = []string{"192.0.2.0/24"} },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				b.engine.GET("/wiring-client-ip", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) })
				r := httptest.NewRequest("GET", "/wiring-client-ip", nil)
				r.RemoteAddr, r.Header["X-Forwarded-For"] = "192.0.2.10:5555", []string{"203.0.113.7"}
				w := httptest.NewRecorder()
				b.engine.ServeHTTP(w, r)
				equal(t, "client address behind a trusted proxy", w.Body.String(), "203.0.113.7")
			},
		},
		"store.driver": {
			set: func(t *testing.T, c *config.Config) {
				c.Store.Driver, c.Store.DSN = config.DriverPostgres, postgresDSN(t)
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				if _, ok := b.store.(*postgres.Store); !ok {
					t.Fatalf("store is %T", b.store)
				}
			},
		},
		"store.dsn": {
			set: func(t *testing.T, c *config.Config) { c.Store.DSN = filepath.Join(t.TempDir(), "own.db") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				if _, err := os.Stat(b.cfg.Store.DSN); err != nil {
					t.Fatalf("the SQLite store is not at store.dsn: %v", err)
				}
			},
		},
		"store.maxConns": {
			set: func(t *testing.T, c *config.Config) {
				c.Store.Driver, c.Store.DSN, c.Store.MaxConns = config.DriverPostgres, postgresDSN(t), 3
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "pool size", b.store.(*postgres.Store).MaxConns(), 3)
			},
		},
		"security.adminToken": {
			set: func(_ *testing.T, c *config.Config) { c.Security.AdminToken = admin },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "admin write with adminToken", serve(t, b, "POST", "/v1/apps", admin), http.StatusBadRequest)
				equal(t, "admin call with another token", serve(t, b, "POST", "/v1/apps/query", reader), http.StatusUnauthorized)
			},
		},
		"security.adminReadToken": {
			set: func(_ *testing.T, c *config.Config) { c.Security.AdminReadToken = reader },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "admin read with adminReadToken", serve(t, b, "POST", "/v1/apps/query", reader), http.StatusOK)
				equal(t, "admin write with adminReadToken", serve(t, b, "POST", "/v1/apps", reader), http.StatusForbidden)
			},
		},
		"security.stateKeys": {
			set: func(_ *testing.T, c *config.Config) {
				c.Security.StateKeys = []config.Key{{ID: "s9", Secret: strings.Repeat("s", 32)}}
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				tok, err := b.deps.Connect.Options().State.Sign(state.Claims{SessionID: "ses_x", Provider: "google", App: "app_x"})
				if err != nil {
					t.Fatal(err)
				}
				head, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
				var h struct{ Kid string }
				_ = json.Unmarshal(head, &h)
				equal(t, "state JWT kid", h.Kid, "s9")
			},
		},
		"security.encryptionKeys": {
			set: func(_ *testing.T, c *config.Config) {
				c.Security.EncryptionKeys = []config.Key{{ID: "e9", Key: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))}}
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "token sealing key", b.tokens.Options().Keys.PrimaryID(), "e9")
				equal(t, "app secrets key", b.deps.Apps.Options().Keys.PrimaryID(), "e9")
				equal(t, "webhook secrets key", b.webhooks.Options().Keys.PrimaryID(), "e9")
			},
		},
		"security.rateLimits.app": {
			set: func(_ *testing.T, c *config.Config) { c.Security.RateLimits.App = rate("5/s") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "AppRate", b.auth.Options().AppRate, 5.0)
			},
		},
		"security.rateLimits.burst": {
			set: func(_ *testing.T, c *config.Config) { c.Security.RateLimits.Burst = 3 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "AppBurst", b.auth.Options().AppBurst, 3)
			},
		},
		"security.rateLimits.browser": {
			set: func(_ *testing.T, c *config.Config) { c.Security.RateLimits.Browser = rate("0") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "browser limit", b.deps.RateLimits.Browser.PerSecond(), 0.0)
				for i := range 50 { // 10/s would have answered 429 by now
					if code := serve(t, b, "GET", "/oauth/start/ses_unknown", ""); code == http.StatusTooManyRequests {
						t.Fatalf("request %d limited with rateLimits.browser: 0", i)
					}
				}
			},
		},
		"security.rateLimits.sessions": {
			set: func(_ *testing.T, c *config.Config) { c.Security.RateLimits.Sessions = rate("2/m") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "sessions limit", b.deps.RateLimits.Sessions, rate("2/m"))
			},
		},
		"security.rateLimits.events": {
			set: func(_ *testing.T, c *config.Config) { c.Security.RateLimits.Events = rate("2/m") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "events limit", b.deps.RateLimits.Events, rate("2/m"))
			},
		},
		"security.rateLimits.maxPendingSessions": {
			set: func(_ *testing.T, c *config.Config) { c.Security.RateLimits.MaxPendingSessions = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "MaxPendingSessions", b.deps.Connect.Options().MaxPendingSessions, 0)
			},
		},
		"cache.tokens": {
			set: func(_ *testing.T, c *config.Config) { c.Cache.Tokens = 7 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "token cache", b.tokens.Options().CacheSize, 7)
			},
		},
		"cache.apps": {
			set: func(_ *testing.T, c *config.Config) { c.Cache.Apps = 7 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "app cache", b.auth.Options().CacheSize, 7)
			},
		},
		"cache.expiryMargin": {
			set: func(_ *testing.T, c *config.Config) { c.Cache.ExpiryMargin = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "ExpiryMargin", b.tokens.Options().ExpiryMargin, 0)
			},
		},
		"proxy.timeout": {
			set: func(_ *testing.T, c *config.Config) { c.Proxy.Timeout = d("45s") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "proxy Timeout", b.deps.Proxy.Options().Timeout, 45*time.Second)
				equal(t, "provider calls' client", b.tokens.Options().HTTPClient.Timeout, 45*time.Second)
				equal(t, "connect's client", b.deps.Connect.Options().HTTPClient.Timeout, 45*time.Second)
			},
		},
		"proxy.responseHeaderTimeout": {
			set: func(_ *testing.T, c *config.Config) { c.Proxy.ResponseHeaderTimeout = d("3s") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "transport ResponseHeaderTimeout", b.proxyBase.ResponseHeaderTimeout, 3*time.Second)
			},
		},
		"proxy.maxRequestBody": {
			set: func(_ *testing.T, c *config.Config) { c.Proxy.MaxRequestBody = 5 << 20 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "MaxRequestBody", b.deps.Proxy.Options().MaxRequestBody, 5<<20)
			},
		},
		"proxy.retryBodyLimit": {
			set: func(_ *testing.T, c *config.Config) { c.Proxy.RetryBodyLimit = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "RetryBodyLimit", b.deps.Proxy.Options().RetryBodyLimit, 0)
			},
		},
		"proxy.maxResponseHeaderBytes": {
			set: func(_ *testing.T, c *config.Config) { c.Proxy.MaxResponseHeaderBytes = 1 << 20 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "transport MaxResponseHeaderBytes", b.proxyBase.MaxResponseHeaderBytes, 1<<20)
			},
		},
		"refresh.keepAlive.enabled": {
			set: func(_ *testing.T, c *config.Config) { c.Refresh.KeepAlive.Enabled = false },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "keep-alive sweep started", b.keepAlive.Enabled, false)
			},
		},
		"refresh.keepAlive.interval": {
			set: func(_ *testing.T, c *config.Config) { c.Refresh.KeepAlive.Interval = d("5m") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "sweep interval", b.keepAlive.Interval, d("5m"))
			},
		},
		"refresh.keepAlive.idleAfter": {
			set: func(_ *testing.T, c *config.Config) { c.Refresh.KeepAlive.IdleAfter = d("48h") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "sweep idleAfter", b.keepAlive.IdleAfter, d("48h"))
			},
		},
		"refresh.leaseTtl": {
			set: func(_ *testing.T, c *config.Config) { c.Refresh.LeaseTTL = d("45s") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "LeaseTTL", b.tokens.Options().LeaseTTL, 45*time.Second)
			},
		},
		"refresh.rejectedCooldown": {
			set: func(_ *testing.T, c *config.Config) { c.Refresh.RejectedCooldown = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "RejectedCooldown", b.tokens.Options().RejectedCooldown, 0)
			},
		},
		// log.* is read by NewLogger, the logger the CLI hands to New.
		"log.level": {
			set: func(_ *testing.T, c *config.Config) { c.Log.Level = "debug" },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				var w bytes.Buffer
				NewLogger(b.cfg.Log, &w).Debug("seen")
				if !strings.Contains(w.String(), "seen") {
					t.Fatal("log.level debug: a debug line was dropped")
				}
			},
		},
		"log.format": {
			set: func(_ *testing.T, c *config.Config) { c.Log.Format = "json" },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				var w bytes.Buffer
				NewLogger(b.cfg.Log, &w).Info("seen")
				if !json.Valid(w.Bytes()) {
					t.Fatalf("log.format json wrote %q", w.String())
				}
			},
		},
		"telemetry.otlp.endpoint": {
			set: func(_ *testing.T, c *config.Config) { c.Telemetry.OTLP.Endpoint = "127.0.0.1:9" },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "OTLPEndpoint", b.tel.Options().OTLPEndpoint, "127.0.0.1:9")
				equal(t, "tracing", b.tel.Tracing(), true)
			},
		},
		"telemetry.otlp.protocol": {
			set: func(_ *testing.T, c *config.Config) { c.Telemetry.OTLP.Protocol = "http" },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "OTLPProtocol", b.tel.Options().OTLPProtocol, "http")
			},
		},
		"telemetry.prometheus": {
			set: func(_ *testing.T, c *config.Config) { c.Telemetry.Prometheus = false },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "GET /metrics", serve(t, b, "GET", MetricsPath, ""), http.StatusNotFound)
			},
		},
		"telemetry.metricsListen": {
			set: func(_ *testing.T, c *config.Config) { c.Telemetry.MetricsListen = "127.0.0.1:0" },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "GET /metrics on server.listen", serve(t, b, "GET", MetricsPath, ""), http.StatusNotFound)
			},
		},
		"webhooks.timeout": {
			set: func(_ *testing.T, c *config.Config) { c.Webhooks.Timeout = d("3s") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "webhook Timeout", b.webhooks.Options().Timeout, 3*time.Second)
			},
		},
		"webhooks.concurrency": {
			set: func(_ *testing.T, c *config.Config) { c.Webhooks.Concurrency = 2 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "webhook Concurrency", b.webhooks.Options().Concurrency, 2)
			},
		},
		"webhooks.pollInterval": {
			set: func(_ *testing.T, c *config.Config) { c.Webhooks.PollInterval = d("5s") },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "webhook PollInterval", b.webhooks.Options().PollInterval, 5*time.Second)
			},
		},
		"webhooks.secretGrace": {
			set: func(_ *testing.T, c *config.Config) { c.Webhooks.SecretGrace = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "WebhookSecretGrace", b.deps.Apps.Options().WebhookSecretGrace, 0)
			},
		},
		"webhooks.retention": {
			set: func(_ *testing.T, c *config.Config) { c.Webhooks.Retention = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "webhook Retention", b.webhooks.Options().Retention, 0)
			},
		},
		"webhooks.failedRetention": {
			set: func(_ *testing.T, c *config.Config) { c.Webhooks.FailedRetention = 0 },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				equal(t, "webhook FailedRetention", b.webhooks.Options().FailedRetention, 0)
			},
		},
		"demo": {
			set: func(_ *testing.T, c *config.Config) { c.Demo = true },
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				if _, ok := b.tokens.Options().Providers.Get("demo"); !ok {
					t.Error("the demo provider is not registered")
				}
				if code := serve(t, b, "GET", "/demo/", ""); code == http.StatusNotFound {
					t.Errorf("GET /demo/ = %d", code)
				}
			},
		},
		"providers": {
			set: func(_ *testing.T, c *config.Config) {
				c.Providers = map[string]providers.Spec{"google": {ClientID: "gid", ClientSecret: "gsecret"}}
			},
			check: func(t *testing.T, b *Broker, err error) {
				built(t, err)
				for what, reg := range map[string]*providers.Registry{
					"tokens": b.tokens.Options().Providers, "connect": b.deps.Connect.Options().Providers, "apps": b.deps.Apps.Options().Providers,
				} {
					p, ok := reg.Get("google")
					if !ok || p.ClientID != "gid" || !p.IsEnabled() {
						t.Errorf("%s: google is not the configured one", what)
					}
				}
			},
		},
	}
}

// postgresDSN is a fresh database on the test PostgreSQL
// (scripts/postgres.sh), or a skip when there is none.
func postgresDSN(t *testing.T) string { return pgtest.DSN(t) }
