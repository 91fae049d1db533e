package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/proxy"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// Each role runs in its own process, started by the harness, and prints
// "READY <addr> [fields…]" on stdout once it serves.

// server returns the HTTP server every role uses: the broker's default
// timeouts, so no side gets different server settings.
func server(h http.Handler) *http.Server {
	d := config.Default().Server
	return &http.Server{
		Handler: h, ReadHeaderTimeout: d.ReadHeaderTimeout.D(), ReadTimeout: d.ReadTimeout.D(),
		WriteTimeout: d.WriteTimeout.D(), IdleTimeout: d.IdleTimeout.D(), MaxHeaderBytes: int(d.MaxHeaderBytes),
	}
}

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	return ln
}

// upstreamBody is the provider API's answer: a small fixed JSON document.
var upstreamBody = []byte(`{"kind":"calendar#events","summary":"bench","items":[{"id":"e1","status":"confirmed"}]}`)

// runUpstream is the provider: an API under /api that accepts only tokens
// it issued (and "fixed", the bare proxies' header) until they expire, and a
// token endpoint that refreshes.
func runUpstream(lifetime time.Duration) {
	ln := listen()
	fmt.Printf("READY %s\n", ln.Addr())
	fatal(server(upstreamMux(lifetime)).Serve(ln))
}

// upstreamMux is the upstream's handler (also served in-process by the
// hot-path benchmark).
func upstreamMux(lifetime time.Duration) *http.ServeMux {
	var valid sync.Map // access token -> expiry (unix nanos; 0 = never)
	valid.Store("fixed", int64(0))
	var n, tokenCalls, apiCalls, unauthorized atomic.Int64
	contentLength := strconv.Itoa(len(upstreamBody))
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		exp, ok := valid.Load(tok)
		if !ok || (exp.(int64) != 0 && time.Now().UnixNano() > exp.(int64)) {
			unauthorized.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{contentLength}
		_, _ = w.Write(upstreamBody)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		tokenCalls.Add(1)
		if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		at := "at_" + strconv.FormatInt(n.Add(1), 10)
		valid.Store(at, time.Now().Add(lifetime).UnixNano())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": at, "token_type": "Bearer", "expires_in": int(lifetime.Seconds()),
		})
	})
	mux.HandleFunc("GET /__bench/stats", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int64{
			"tokenCalls": tokenCalls.Load(), "apiCalls": apiCalls.Load(), "unauthorized": unauthorized.Load(),
		})
	})
	return mux
}

// runBare is the reference: a bare httputil.ReverseProxy that sets a fixed
// Authorization header. tuned gives it the broker's transport and buffer
// pool; otherwise everything is Go's default (http.DefaultTransport keeps
// only 2 idle connections per host).
func runBare(upstream string, tuned bool) {
	ln := listen()
	fmt.Printf("READY %s\n", ln.Addr())
	fatal(server(withBenchRoutes(bareProxy(upstream, tuned))).Serve(ln))
}

// withBenchRoutes serves the harness's own routes (heap figures, CPU
// profiles) beside h, picked by a prefix test, the same on every proxy
// role. Routing every proxied request through a ServeMux first cost 1.3%
// of the broker's CPU in a profile.
func withBenchRoutes(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__bench/mem", memHandler)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/__bench/") || strings.HasPrefix(r.URL.Path, "/debug/") {
			mux.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func bareProxy(upstream string, tuned bool) *httputil.ReverseProxy {
	target, err := url.Parse(upstream + "/api")
	if err != nil {
		fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Header.Set("Authorization", "Bearer fixed")
	}}
	// The load generator cancels requests in flight when a run ends; the
	// client counts real errors.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	if tuned {
		rp.Transport = proxy.NewTransport(config.DefaultResponseHeaderTimeout, 0)
		rp.BufferPool = &bufferPool{}
	}
	return rp
}

// bufferPool is the bare-tuned proxy's copy buffer pool.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[32 << 10]byte); ok {
		return v[:]
	}
	return new([32 << 10]byte)[:]
}

func (b *bufferPool) Put(buf []byte) { b.p.Put((*[32 << 10]byte)(buf[:32<<10])) }

// runBroker is the real broker: broker.New with its whole HTTP stack
// (request id, access log, recovery, app authentication, permission check,
// token manager on SQLite, proxy), a provider pointing at the upstream, one
// app and one connection whose token is refreshed on first use and then
// whenever it comes within margin of its expiry.
func runBroker(upstream string, margin time.Duration, logLevel, variant, collector string) {
	dir, err := os.MkdirTemp("", "broker-bench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	api, secret, connID := newBroker(dir, upstream, margin, logLevel, variant, collector)
	ln := listen()
	fmt.Printf("READY %s %s %s\n", ln.Addr(), secret, connID)
	fatal(server(withBenchRoutes(api)).Serve(ln))
}

// newBroker builds the broker of the broker role on a SQLite file in dir
// and returns its handler, the app's secret and the connection's id.
func newBroker(dir, upstream string, margin time.Duration, logLevel, variant, collector string) (http.Handler, string, string) {
	ctx := context.Background()
	gin.SetMode(gin.ReleaseMode) // as cmd/broker does; broker.New leaves the mode to the process
	cfg := config.Default()
	cfg.Server.DataDir = dir
	cfg.Server.AllowInsecureLoopback = true
	cfg.Security.AdminToken = randomString()
	cfg.Security.StateKeys = []config.Key{{ID: "s1", Secret: randomString()}}
	key, err := secrets.GenerateKey()
	if err != nil {
		fatal(err)
	}
	cfg.Security.EncryptionKeys = []config.Key{{ID: "e1", Key: key}}
	cfg.Cache.ExpiryMargin = config.Duration(margin)
	cfg.Refresh.KeepAlive.Enabled = false
	cfg.Security.RateLimits.App = config.Rate{}
	yes := true
	cfg.Providers = map[string]providers.Spec{"bench": {
		Kind: providers.KindOAuth2, Name: "Bench", Enabled: &yes, ClientID: "bench", ClientSecret: "bench-secret",
		AuthURL: upstream + "/authorize", TokenURL: upstream + "/token", APIBaseURL: upstream + "/api",
	}}
	level := slog.LevelWarn
	if logLevel == "info" {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
	st, err := sqlite.Open(ctx, filepath.Join(dir, "broker.db"), sqlite.Options{})
	if err != nil {
		fatal(err)
	}
	v := telemetryVariants[variant]
	to := telemetry.Options{Prometheus: v.metrics, Getenv: func(string) string { return "" }}
	if v.sample > 0 {
		to.OTLPEndpoint, to.OTLPProtocol = collector, "http"
		to.Sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(v.sample))
	}
	tel, err := telemetry.New(ctx, to)
	if err != nil {
		fatal(err)
	}
	b, err := broker.New(ctx, cfg, broker.Options{Store: st, Logger: logger, Telemetry: tel})
	if err != nil {
		fatal(err)
	}
	appID := model.NewID(model.PrefixApp)
	secret, hash, err := secrets.NewAppSecret(appID)
	if err != nil {
		fatal(err)
	}
	now := time.Now()
	if err := st.CreateApp(ctx, model.App{ID: appID, Name: "bench", Permissions: model.AllPermissions,
		SecretHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		fatal(err)
	}
	conn, _, err := b.Tokens().Save(ctx, model.Connection{AppID: appID, ProviderID: "bench", ScheduleID: "bench",
		AccountID: "bench-user", ClientSource: model.ClientBroker},
		model.Token{AccessToken: "seed", RefreshToken: "rt_seed", TokenType: "Bearer", Expiry: now.Add(-time.Minute)})
	if err != nil {
		fatal(err)
	}
	if v.core {
		return coreHandler(b, appID, conn.ID), secret, conn.ID
	}
	return b.Handler(), secret, conn.ID
}

// coreHandler is the broker's proxy core alone: its own proxy.Proxy (path
// confinement, header filtering, injection, response hardening, the
// deadline sweeper, the 401 retry, the token manager's cache and the
// instrumented transport with its client histogram), served for the one
// connection with no Gin, no middleware, no app authentication and no
// server histogram. Against the tuned bare proxy it shows what the proxy
// core costs; against the whole broker, what the HTTP layer in front of it
// does. It is a measuring device only: it authenticates nobody.
func coreHandler(b *broker.Broker, appID, connID string) http.Handler {
	px := b.Proxy()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		px.ServeProxy(w, r, appID, connID)
	})
}

// telemetryVariants are the broker's telemetry settings the harness
// compares: sample is the trace sampling ratio (0 = tracing off).
var telemetryVariants = map[string]struct {
	metrics bool
	sample  float64
	core    bool // coreHandler instead of the whole broker
}{
	"off":      {},
	"core":     {metrics: true, core: true},
	"metrics":  {metrics: true},
	"trace100": {metrics: true, sample: 1},
	"trace1":   {metrics: true, sample: 0.01},
}

// runCollector is an OTLP/HTTP trace sink: it reads each export and answers
// with an empty ExportTraceServiceResponse, so tracing pays its real
// batching, encoding and sending cost.
func runCollector() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	ln := listen()
	fmt.Printf("READY %s\n", ln.Addr())
	fatal(server(mux).Serve(ln))
}

// memStats is what the broker process reports about its memory.
type memStats struct {
	HeapInuse  uint64 `json:"heapInuse"`
	HeapAlloc  uint64 `json:"heapAlloc"`
	Sys        uint64 `json:"sys"`
	NumGC      uint32 `json:"numGC"`
	Goroutines int    `json:"goroutines"`
}

func memHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		// Twice: the first moves sync.Pool contents to the victim cache,
		// the second frees them, so what remains is what the broker holds.
		runtime.GC()
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	_ = json.NewEncoder(w).Encode(memStats{HeapInuse: m.HeapInuse, HeapAlloc: m.HeapAlloc, Sys: m.Sys,
		NumGC: m.NumGC, Goroutines: runtime.NumGoroutine()})
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
