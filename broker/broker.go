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

// Options are the parts a caller may inject; zero values are filled from the
// config.
type Options struct {
	// Store is used instead of opening store.driver; the caller closes it.
	Store  store.Store
	Logger *slog.Logger
	// HTTPClient makes token and provider API calls (not proxied ones).
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

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New wires a broker from a validated config whose secrets are filled (see
// PrepareSecrets). It migrates the store and refuses a schema newer than
// this binary knows. Background loops run until Close.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Broker, error) {
	b := &Broker{cfg: cfg, logger: opts.Logger, store: opts.Store}
	if b.logger == nil {
		b.logger = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if b.store == nil {
		st, err := OpenStore(ctx, cfg)
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
	reg, perrs := registry.Resolve(cfg.Providers, providers.ResolveOptions{AllowInsecureLoopback: cfg.Server.AllowInsecureLoopback})
	if len(perrs) > 0 {
		return nil, fmt.Errorf("broker: providers: %s: %s", perrs[0].Path, perrs[0].Message)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = providers.NewHTTPClient(cfg.Proxy.Timeout.D())
	}
	var proxyTransport http.RoundTripper
	if cfg.Demo {
		reg, hc, proxyTransport = b.withDemo(cfg, now, reg, hc)
	}
	// Client spans and client metrics on every outbound call; the proxy's
	// transport is built here so the instrumentation wraps it.
	hc = b.tel.Client(hc)
	if proxyTransport == nil {
		proxyTransport = proxy.NewTransport(cfg.Proxy.ResponseHeaderTimeout.D(), int64(cfg.Proxy.MaxResponseHeaderBytes))
	}
	proxyTransport = b.tel.Transport(proxyTransport)
	b.tokens, err = tokens.New(tokens.Options{
		Store: b.store, Keys: keys, Providers: reg, HTTPClient: hc,
		CacheSize: cfg.Cache.Tokens, ExpiryMargin: cfg.Cache.ExpiryMargin.D(),
		LeaseTTL: cfg.Refresh.LeaseTTL.D(), Now: now, Logger: b.logger, Telemetry: b.tel,
		RejectedCooldown: cfg.Refresh.RejectedCooldown.D(),
	})
	if err != nil {
		return nil, err
	}
	b.auth = middleware.NewAuthenticator(middleware.AuthOptions{
		Store: b.store, CacheSize: cfg.Cache.Apps,
		AdminToken: cfg.Security.AdminToken, AdminReadToken: cfg.Security.AdminReadToken,
		AppRate: cfg.Security.RateLimits.App.PerSecond(), AppBurst: cfg.Security.RateLimits.Burst,
	})
	wh := cfg.Webhooks
	b.webhooks = webhooks.New(webhooks.Options{
		Store: b.store, Keys: keys, Now: now, Logger: b.logger, Telemetry: b.tel,
		Timeout: wh.Timeout.D(), Concurrency: wh.Concurrency, PollInterval: wh.PollInterval.D(),
		Retention: wh.Retention.D(), FailedRetention: wh.FailedRetention.D(),
		AllowLoopback: cfg.Server.AllowInsecureLoopback && !cfg.Server.Production,
	})
	appSvc := apps.New(apps.Options{Store: b.store, Keys: keys, Now: now, Providers: reg,
		WebhookSecretGrace: wh.SecretGrace.D(), AllowInsecureLoopback: cfg.Server.AllowInsecureLoopback && !cfg.Server.Production,
		BeforeDelete: b.tokens.RevokeApp,
		OnChange: func(appID string) {
			b.auth.Purge(appID)
			b.tokens.Invalidate(store.Change{Kind: store.ChangeApp, ID: appID})
		}})
	conn := connect.New(connect.Options{
		Store: b.store, Tokens: b.tokens, Providers: reg, State: signer,
		PublicURL: cfg.Server.PublicURL, HTTPClient: hc, Now: now, Logger: b.logger,
		AllowLoopbackLogos: cfg.Server.AllowInsecureLoopback, Telemetry: b.tel,
		MaxPendingSessions: cfg.Security.RateLimits.MaxPendingSessions,
	})
	px := proxy.New(proxy.Options{
		Creds: b.tokens, Timeout: cfg.Proxy.Timeout.D(), ResponseHeaderTimeout: cfg.Proxy.ResponseHeaderTimeout.D(),
		MaxRequestBody: int64(cfg.Proxy.MaxRequestBody), RetryBodyLimit: int64(cfg.Proxy.RetryBodyLimit), Logger: b.logger,
		PublicURL: cfg.Server.PublicURL,
		Transport: proxyTransport,
	})
	b.deps = api.Deps{
		Config: cfg, Store: b.store, Logger: b.logger, Now: now,
		Auth: b.auth, Apps: appSvc, Tokens: b.tokens, Providers: reg, Connect: conn, Proxy: px,
		Webhooks: b.webhooks, Telemetry: b.tel,
		Events: events.New(events.Options{
			Store: b.store, Tokens: b.tokens, Providers: reg, Rooms: registry.Rooms(),
			HTTPClient: &http.Client{Transport: proxyTransport, Timeout: cfg.Proxy.Timeout.D(),
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
			CursorKey: cursorKey(cfg), Now: now, Telemetry: b.tel,
		}),
	}
	if err := b.observeStore(now); err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	b.engine = gin.New()
	b.engine.ContextWithFallback = true
	// Gin trusts every peer's X-Forwarded-For by default, which would let a
	// client choose the address its browser rate limit is keyed by.
	if err := b.engine.SetTrustedProxies(cfg.Server.TrustedProxies); err != nil {
		return nil, fmt.Errorf("broker: server.trustedProxies: %w", err)
	}
	b.Mount(b.engine)
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
func (b *Broker) Mount(r gin.IRouter) {
	g := r.Group("", b.middlewares()...)
	api.Register(g, b.deps)
	b.mountDemo(g)
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
	if cfg.Refresh.KeepAlive.Enabled {
		b.goLoop(func() {
			b.tokens.RunKeepAlive(ctx, cfg.Refresh.KeepAlive.Interval.D(), cfg.Refresh.KeepAlive.IdleAfter.D())
		})
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

// Serve is ListenAndServe on a given listener.
func (b *Broker) Serve(ctx context.Context, ln net.Listener) error {
	s := b.cfg.Server
	srv := &http.Server{
		Handler:           b.engine,
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		ReadTimeout:       s.ReadTimeout.D(),
		WriteTimeout:      s.WriteTimeout.D(),
		IdleTimeout:       s.IdleTimeout.D(),
		MaxHeaderBytes:    int(s.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(b.logger.Handler(), slog.LevelWarn),
	}
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
