// Command embed is an app that already has a Gin engine and mounts the
// whole broker into it: the app's own routes and the broker's (/v1, /oauth,
// /connect, /proxy, /healthz, and /demo with -demo) on one server, one
// port, one process. broker.New runs the broker's background loops
// (refresh keep-alive, webhooks, cleanup) until Close.
//
//	go run ./examples/embed -demo                  # defaults, SQLite and dev keys in ./data
//	go run ./examples/embed -config broker.yaml    # a broker.yaml of your own
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/config"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to serve the app and the broker on")
	path := flag.String("config", "", "broker.yaml (default: the broker's defaults)")
	demo := flag.Bool("demo", false, "mount the broker's demo provider and create a demo app")
	flag.Parse()

	cfg := config.Default()
	if *path != "" {
		var err error
		if cfg, err = config.Load(*path); err != nil {
			log.Fatal(err)
		}
	}
	cfg.Demo = cfg.Demo || *demo
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, ln, cfg, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the app with the broker mounted on ln until ctx ends.
func run(ctx context.Context, ln net.Listener, cfg *config.Config, out io.Writer) error {
	if cfg.PublicURLFollowsListen() { // publicUrl not set: the broker's links point here
		cfg.Server.PublicURL = "http://" + ln.Addr().String()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := broker.NewLogger(cfg.Log, os.Stderr)
	if err := broker.PrepareSecrets(cfg, logger); err != nil {
		return err
	}
	b, err := broker.New(ctx, cfg, broker.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer b.Close()

	// The app's existing engine and routes.
	r := gin.New()
	r.Use(gin.Recovery())
	// Gin trusts every peer's X-Forwarded-For unless told otherwise, and
	// the broker's browser rate limit is keyed by the client's address.
	if err := r.SetTrustedProxies(cfg.Server.TrustedProxies); err != nil {
		return err
	}
	r.ContextWithFallback = true // as the broker's own engine: handlers read the request's context through gin.Context
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "My booking site, with the broker mounted.\n") })

	// The whole broker, with its own middleware (request id, access log,
	// recovery, telemetry) on its routes only.
	if err := b.Mount(r); err != nil {
		return err
	}

	if cfg.Demo {
		d, err := b.EnsureDemoApp(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "demo app: CLIENT_ID=%s CLIENT_SECRET=%s\n", d.App.ID, d.ClientSecret)
	}
	fmt.Fprintf(out, "serving the app and the broker on %s\n", cfg.Server.PublicURL)

	srv := &http.Server{Handler: r, ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(), IdleTimeout: cfg.Server.IdleTimeout.D()}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
