package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/broker/broker/store"
)

// watchApplicationName names the listening session in pg_stat_activity.
const watchApplicationName = "broker-watch"

// Watch calls fn for every change any replica commits, until ctx ends (then
// it returns nil). It listens on a connection of its own; whenever that
// connection is (re)established it first calls fn with a zero Change, since
// changes made while it was down were missed and caches must resync. A lost
// connection is retried with backoff from 100ms up to 5s.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	delay := 100 * time.Millisecond
	for {
		err := s.listen(ctx, fn, func() { delay = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("store: change listener lost its connection; reconnecting",
			"err", wrapUnavailable("watch", err), "retryIn", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// listen runs one listening session until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, fn func(store.Change), connected func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = watchApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	connected()
	fn(store.Change{})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		kind, id, ok := strings.Cut(n.Payload, ":")
		if !ok || id == "" {
			continue // not ours
		}
		fn(store.Change{Kind: store.ChangeKind(kind), ID: id})
	}
}
