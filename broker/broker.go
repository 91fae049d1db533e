package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/api"
	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/demo"
	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/proxy"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/registry"
)

// Options are the parts a caller may inject. Each means what it says: a
// nil one is not replaced by anything global (a nil Logger logs nothing).
type Options struct {
	// Store is used instead of opening store.driver; the caller closes it.
	Store store.Store
	// Logger receives the broker's logs; nil = none.
	Logger *slog.Logger
	// HTTPClient makes token and provider API calls (not proxied ones);
	// nil = providers.NewHTTPClient bounded by proxy.timeout.
	HTTPClient *http.Client
	Now        func() time.Time
	// Telemetry is used instead of building one from telemetry: (tests pass
	// an in-memory span exporter); the caller shuts it down.
	Telemetry *telemetry.Telemetry
	// Version goes on the telemetry resource.
	Version string
}

// Broker is a wired broker: one HTTP handler plus its background loops.
type Broker struct {
	cfg       *config.Config
	store     store.Store
	ownsStore bool
	logger    *slog.Logger
	engine    *gin.Engine
	deps      api.Deps
	tokens    *tokens.Manager
	webhooks  *webhooks.Worker
	auth      *middleware.Authenticator
	demo      *demo.Server // nil unless demo: true
	tel       *telemetry.Telemetry
	ownsTel   bool
	// proxyBase is the transport to providers' APIs built from proxy:
	// the proxy's and the calendar adapters' calls go through it.
	proxyBase *http.Transport
	// keepAlive is the keep-alive sweep started (zero: none).
	keepAlive config.KeepAlive

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New wires a broker from a config whose secrets are filled (see
// PrepareSecrets). It validates the config first, as check-config does, so
// what check-config accepts New accepts, and resolves the providers the same
// way; every component refuses what it cannot run with, and a missing one
// is an error here, never a route left out. It migrates the store and
// refuses a schema newer than this binary knows. Background loops run until
// Close. It changes no process-wide state (Gin's mode included: see
// docs/architecture.md).
func New(ctx context.Context, cfg *config.Config, opts Options) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker: config:\n%w", err)
	}
	reg, err := cfg.ProviderRegistry()
	if err != nil {
		return nil, fmt.Errorf("broker: providers: %w", err)
	}
	b := &Broker{cfg: cfg, logger: opts.Logger, store: opts.Store}
	if b.logger == nil {
		b.logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if b.store == nil {
		st, err := OpenStore(ctx, cfg, b.logger)
		if err != nil {
			return nil, err
		}
		b.store, b.ownsStore = st, true
	}
	ok := false
	defer func() {
		if !ok {
			b.closeStore()
			b.closeTelemetry(context.Background())
		}
	}()
	b.tel = opts.Telemetry
	if b.tel == nil {
		t := cfg.Telemetry
		tel, err := telemetry.New(ctx, telemetry.Options{
			OTLPEndpoint: t.OTLP.Endpoint, OTLPProtocol: t.OTLP.Protocol,
			Prometheus: t.Prometheus, ServiceVersion: opts.Version,
		})
		if err != nil {
			return nil, fmt.Errorf("broker: telemetry: %w", err)
		}
		b.tel, b.ownsTel = tel, true
	}
	if err := b.store.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := store.CheckSchema(ctx, b.store); err != nil {
		return nil, err
	}
	keys, err := KeyRing(cfg)
	if err != nil {
		return nil, err
	}
	signer, err := StateSigner(cfg)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = providers.NewHTTPClient(cfg.Proxy.Timeout.D())
	}
	b.proxyBase = proxy.NewTransport(cfg.Proxy.ResponseHeaderTimeout.D(), int64(cfg.Proxy.MaxResponseHeaderBytes))
	var proxyTransport http.RoundTripper = b.proxyBase
	if cfg.Demo {
		reg, hc, proxyTransport = b.withDemo(cfg, now, reg, hc, b.proxyBase)
	}
	// Client spans and client metrics on every outbound call; the proxy's
	// transport is built here so the instrumentation wraps it.
	hc = b.tel.Client(hc)
	proxyTransport = b.tel.Transport(proxyTransport)
	loopback := cfg.Server.LoopbackAllowed()
	b.tokens, err = tokens.New(tokens.Options{
		Store: b.store, Keys: keys, Providers: reg, HTTPClient: hc,
		CacheSize: cfg.Cache.Tokens, ExpiryMargin: cfg.Cache.ExpiryMargin.D(),
		LeaseTTL: cfg.Refresh.LeaseTTL.D(), Now: now, Logger: b.logger, Telemetry: b.tel,
		RejectedCooldown: cfg.Refresh.RejectedCooldown.D(),
	})
	if err != nil {
		return nil, err
	}
	rl := cfg.Security.RateLimits
	b.auth, err = middleware.NewAuthenticator(middleware.AuthOptions{
		Store: b.store, CacheSize: cfg.Cache.Apps, CacheTTL: middleware.AppCacheTTL,
		AdminToken: cfg.Security.AdminToken, AdminReadToken: cfg.Security.AdminReadToken,
		AppRate: rl.App.PerSecond(), AppBurst: rl.Burst,
	})
	if err != nil {
		return nil, err
	}
	wh := cfg.Webhooks
	b.webhooks, err = webhooks.New(webhooks.Options{
		Store: b.store, Keys: keys, Now: now, Logger: b.logger, Telemetry: b.tel,
		Timeout: wh.Timeout.D(), Concurrency: wh.Concurrency, PollInterval: wh.PollInterval.D(),
		Retention: wh.Retention.D(), FailedRetention: wh.FailedRetention.D(),
		AllowLoopback: loopback,
	})
	if err != nil {
		return nil, err
	}
	appSvc, err := apps.New(apps.Options{Store: b.store, Keys: keys, Now: now, Providers: reg,
		WebhookSecretGrace: wh.SecretGrace.D(), AllowInsecureLoopback: loopback,
		BeforeDelete: b.tokens.RevokeApp,
		OnChange: func(appID string) {
			b.auth.Purge(appID)
			b.tokens.Invalidate(store.Change{Kind: store.ChangeApp, ID: appID})
		}})
	if err != nil {
		return nil, err
	}
	conn, err := connect.New(connect.Options{
		Store: b.store, Tokens: b.tokens, Providers: reg, State: signer,
		PublicURL: cfg.Server.PublicURL, HTTPClient: hc, Now: now, Logger: b.logger,
		AllowLoopbackLogos: loopback, Telemetry: b.tel,
		MaxPendingSessions: rl.MaxPendingSessions,
	})
	if err != nil {
		return nil, err
	}
	px, err := proxy.New(proxy.Options{
		Creds: b.tokens, Timeout: cfg.Proxy.Timeout.D(), ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout.D(),
		MaxRequestBody: int64(cfg.Proxy.MaxRequestBody), RetryBodyLimit: int64(cfg.Proxy.RetryBodyLimit),
		MaxResponseHeaderBytes: int64(cfg.Proxy.MaxResponseHeaderBytes), Logger: b.logger,
		PublicURL: cfg.Server.PublicURL, Transport: proxyTransport,
	})
	if err != nil {
		return nil, err
	}
	ev, err := events.New(events.Options{
		Store: b.store, Tokens: b.tokens, Providers: reg, Rooms: registry.Rooms(),
		HTTPClient: &http.Client{Transport: proxyTransport, Timeout: cfg.Proxy.Timeout.D(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		CursorKey: cursorKey(cfg), Now: now, Telemetry: b.tel,
		CallTimeout: events.DefaultCallTimeout, ListTimeout: events.DefaultListTimeout, PerAccount: events.DefaultPerAccount,
	})
	if err != nil {
		return nil, err
	}
	b.deps = api.Deps{
		Store: b.store, RateLimits: rl, Auth: b.auth, Apps: appSvc, Connect: conn, Proxy: px,
		Webhooks: b.webhooks, Events: ev,
	}
	if err := b.observeStore(now); err != nil {
		return nil, err
	}
	// gin.New, not gin.Default, and no gin.SetMode: the mode is the
	// process's (cmd/broker sets release mode), and this engine's behaviour
	// is set on it below.
	b.engine = gin.New()
	b.engine.ContextWithFallback = true
	// Gin trusts every peer's X-Forwarded-For by default, which would let a
	// client choose the address its browser rate limit is keyed by.
	if err := b.engine.SetTrustedProxies(cfg.Server.TrustedProxies); err != nil {
		return nil, fmt.Errorf("broker: server.trustedProxies: %w", err)
	}
	if err := b.Mount(b.engine); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if h := b.tel.MetricsHandler(); h != nil && cfg.Telemetry.MetricsListen == "" {
		b.engine.GET(MetricsPath, middleware.NoSniff(), gin.WrapH(h))
	}
	// Unknown paths answer with the error envelope too, not Gin's text page
	// or its trailing-slash redirect (a 301 with an HTML body, which also
	// turns a proxied POST into a GET), and are measured and logged like any
	// request: a scan leaves a trace.
	b.engine.RedirectTrailingSlash = false
	b.engine.NoRoute(append(b.middlewares(), api.NoRoute)...)

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	b.startBackground(bg, cfg)
	ok = true
	return b, nil
}

// Mount registers the broker's routes, with its own request id, access log
// and recovery middleware, on r: an app can embed the broker in its router.
func (b *Broker) Mount(r gin.IRouter) error {
	g := r.Group("", b.middlewares()...)
	if err := api.Register(g, b.deps); err != nil {
		return err
	}
	b.mountDemo(g)
	return nil
}

// middlewares run before every handler: telemetry first (its histogram and
// span cover the rest), nosniff on every answer, then recovery, request id
// and the access log.
func (b *Broker) middlewares() []gin.HandlerFunc {
	return append(b.tel.Server(), middleware.NoSniff(), middleware.Recovery(b.logger), middleware.RequestID(), middleware.AccessLog(b.logger))
}

// Telemetry is the broker's telemetry (tracer, meter, instruments).
func (b *Broker) Telemetry() *telemetry.Telemetry { return b.tel }

// Handler is the broker's whole HTTP API.
func (b *Broker) Handler() http.Handler { return b.engine }

// Proxy is the credential-injecting proxy the /proxy/ routes serve (for
// benchmarks and embedding apps that serve it their own way).
func (b *Broker) Proxy() *proxy.Proxy { return b.deps.Proxy }

// Tokens exposes the token manager (for tests and embedding apps).
func (b *Broker) Tokens() *tokens.Manager { return b.tokens }

// startBackground runs the loops every replica needs: cache invalidation
// from other replicas, keep-alive refreshes and expired-session cleanup.
func (b *Broker) startBackground(ctx context.Context, cfg *config.Config) {
	if w, ok := b.store.(store.Watcher); ok {
		b.goLoop(func() {
			err := w.Watch(ctx, func(c store.Change) {
				b.tokens.Invalidate(c)
				switch {
				case c.Kind == store.ChangeApp:
					b.auth.Purge(c.ID)
				case c == store.Change{}:
					b.auth.PurgeAll()
				}
			})
			if err != nil && ctx.Err() == nil {
				b.logger.Error("change feed stopped", "err", err)
			}
		})
	}
	// Every replica delivers: claims are exclusive in the store.
	b.goLoop(func() { b.webhooks.Run(ctx) })
	if ka := cfg.Refresh.KeepAlive; ka.Enabled {
		b.keepAlive = ka
		b.goLoop(func() { b.tokens.RunKeepAlive(ctx, ka.Interval.D(), ka.IdleAfter.D()) })
	}
	b.goLoop(func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := b.store.DeleteExpiredAuthSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
					b.logger.Warn("expired auth session cleanup failed", "err", err)
				}
			}
		}
	})
}

func (b *Broker) goLoop(f func()) {
	b.wg.Add(1)
	go func() { defer b.wg.Done(); f() }()
}

// ListenAndServe serves on server.listen until ctx ends, then drains
// in-flight requests for up to server.shutdownGrace.
func (b *Broker) ListenAndServe(ctx context.Context) error {
	s := b.cfg.Server
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("broker: listen: %w", err)
	}
	return b.Serve(ctx, ln)
}

// httpServer is the server Serve runs, bounded by server.*.
func (b *Broker) httpServer() *http.Server {
	s := b.cfg.Server
	return &http.Server{
		Handler:           b.engine,
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		ReadTimeout:       s.ReadTimeout.D(),
		WriteTimeout:      s.WriteTimeout.D(),
		IdleTimeout:       s.IdleTimeout.D(),
		MaxHeaderBytes:    int(s.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(b.logger.Handler(), slog.LevelWarn),
	}
}

// Serve is ListenAndServe on a given listener.
func (b *Broker) Serve(ctx context.Context, ln net.Listener) error {
	s := b.cfg.Server
	srv := b.httpServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if h := b.tel.MetricsHandler(); h != nil && b.cfg.Telemetry.MetricsListen != "" {
		stop, err := b.serveMetrics(b.cfg.Telemetry.MetricsListen, h)
		if err != nil {
			srv.Close()
			return err
		}
		defer stop()
	}
	b.logger.Info("broker listening", "addr", ln.Addr().String(), "publicUrl", s.PublicURL, "store", b.cfg.Store.Driver)
	select {
	case err := <-errc:
		return fmt.Errorf("broker: serve: %w", err)
	case <-ctx.Done():
	}
	b.logger.Info("shutting down: draining in-flight requests", "grace", s.ShutdownGrace.D().String())
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownGrace.D())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Grace is over: cut what is left rather than hang. (A client's
		// connection that never sent a request counts as busy for 5s in
		// net/http, so a grace under 5s can end here with nothing in flight.)
		srv.Close()
		return fmt.Errorf("broker: shutdown: in-flight requests cut after server.shutdownGrace (%s): %w", s.ShutdownGrace.D(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the background loops and closes the store if New opened it.
func (b *Broker) Close() error {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	b.closeTelemetry(context.Background())
	return b.closeStore()
}

func (b *Broker) closeTelemetry(ctx context.Context) {
	if !b.ownsTel {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.tel.Shutdown(ctx); err != nil {
		b.logger.Warn("telemetry shutdown", "err", err)
	}
	b.ownsTel = false
}

func (b *Broker) closeStore() error {
	if b.ownsStore && b.store != nil {
		return b.store.Close()
	}
	return nil
}
