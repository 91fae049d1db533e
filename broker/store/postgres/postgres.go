package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tunes the PostgreSQL store; the zero value is fine.
type Options struct {
	// MaxConns is the pool size (store.maxConns); at least 1.
	MaxConns int
	// Logger receives Watch's reconnect notices; nil = none.
	Logger *slog.Logger
	// Now is the clock for timestamps the store fills in (default time.Now).
	Now func() time.Time
}

// Channel is the LISTEN/NOTIFY channel; payloads are "<kind>:<id>", e.g.
// "connection:con_abc" or "app:app_xyz".
const Channel = "broker_changes"

// migrateLockKey is the pg_advisory_lock key that serializes Migrate across
// replicas ("broker" in ASCII).
const migrateLockKey int64 = 0x62726f6b6572

// Store is the PostgreSQL backend.
type Store struct {
	*sqlstore.Store
	pool *pgxpool.Pool
	db   *sql.DB
	log  *slog.Logger
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Open connects to dsn (a postgres:// URL or key=value string) and checks it
// is reachable; an unreachable server is model.ErrUnavailable. It does not
// migrate; call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxConns < 1 {
		return nil, fmt.Errorf("store: postgres MaxConns %d: must be at least 1", opts.MaxConns)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("store: postgres dsn: %w", err)
	}
	cfg.MaxConns = int32(opts.MaxConns)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ms, err := sqlstore.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	s := &Store{pool: pool, db: db, log: opts.Logger}
	s.Store = sqlstore.New(db, db, dialect, ms, opts.Now)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// MaxConns is the pool size the store was opened with.
func (s *Store) MaxConns() int { return int(s.pool.Config().MaxConns) }

// Close closes the pool.
func (s *Store) Close() error {
	err := s.db.Close()
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("store: close postgres: %w", err)
	}
	return nil
}

var dialect = sqlstore.Dialect{
	Name:       "postgres",
	SkipLocked: " FOR UPDATE SKIP LOCKED",
	ForUpdate:  " FOR UPDATE",
	// The sequence of 0003_webhook_delivery.sql.
	NextWebhookSeq: "nextval('webhook_events_seq')",
	IsUnique:       func(err error) bool { return pgCode(err) == "23505" },
	IsForeignKey:   func(err error) bool { return pgCode(err) == "23503" },
	IsUnavailable:  isUnavailable,
	Notify: func(ctx context.Context, tx *sql.Tx, kind, id string) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, kind+":"+id)
		return err
	},
	Lock: func(ctx context.Context, conn *sql.Conn) (func(), error) {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
			return nil, err
		}
		return func() {
			// Unlock even when ctx has ended; closing the session would too.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, migrateLockKey)
		}, nil
	},
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUnavailable tells a database that cannot be reached (or is shutting
// down, or full of connections) from a query the database refused.
func isUnavailable(err error) bool {
	if c := pgCode(err); c != "" {
		switch {
		case len(c) == 5 && c[:2] == "08", // connection exception
			c == "57P01", c == "57P02", c == "57P03", // shutting down, cannot connect now
			c == "53300": // too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) || pgconn.Timeout(err)
}

// wrapUnavailable marks connection failures outside the shared code (Open,
// Watch) like the shared code does.
func wrapUnavailable(op string, err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("store: %s: %w: %w", op, model.ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
