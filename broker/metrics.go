package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/oauthbroker/broker/broker/store"
)

// MetricsPath is where the Prometheus metrics are served: on server.listen,
// or only on telemetry.metricsListen when that is set.
const MetricsPath = "/metrics"

// serveMetrics serves /metrics alone on addr until stop is called.
func (b *Broker) serveMetrics(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: telemetry.metricsListen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, h)
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(b.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.logger.Error("metrics listener stopped", "err", err)
		}
	}()
	b.logger.Info("metrics listening", "addr", ln.Addr().String(), "path", MetricsPath)
	return func() { srv.Close() }, nil
}

// observeStore registers the gauges read from the store at scrape time,
// when the store can count (both backends can).
func (b *Broker) observeStore(now func() time.Time) error {
	st, ok := b.store.(store.Stats)
	if !ok {
		return nil
	}
	return b.tel.Metrics().ObserveStore(
		func(ctx context.Context) (map[string]int64, error) { return st.CountConnections(ctx) },
		func(ctx context.Context) (int64, time.Time, error) { return st.WebhookBacklog(ctx) },
		now)
}
