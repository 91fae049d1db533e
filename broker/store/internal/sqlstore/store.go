package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

// Dialect is what a backend tells the shared implementation about itself.
type Dialect struct {
	// Name prefixes error messages, e.g. "sqlite".
	Name string
	// SkipLocked is appended to the outbox claim's inner SELECT so that
	// concurrent replicas skip each other's rows (" FOR UPDATE SKIP LOCKED"
	// on PostgreSQL; empty on SQLite, whose single writer already serializes).
	SkipLocked string
	// NextWebhookSeq is the SQL expression of a new outbox event's seq
	// (PostgreSQL: its sequence); empty means MAX(seq)+1, right only under
	// SQLite's single writer.
	NextWebhookSeq string
	// ForUpdate is appended to reads inside write transactions that must lock
	// the row (PostgreSQL " FOR UPDATE"; empty on SQLite).
	ForUpdate string
	// IsUnique reports a uniqueness violation; IsForeignKey a reference to a
	// missing row; IsUnavailable a database that cannot be reached.
	IsUnique      func(error) bool
	IsForeignKey  func(error) bool
	IsUnavailable func(error) bool
	// Notify, when set, announces a change to other replicas inside tx.
	Notify func(ctx context.Context, tx *sql.Tx, kind, id string) error
	// Lock, when set, serializes Migrate across processes on conn and returns
	// the unlock function.
	Lock func(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
}

// Store implements store.Store (less Close) over database/sql.
type Store struct {
	w, r *sql.DB // writer and reader pools; the same pool on PostgreSQL
	d    Dialect
	mig  []Migration
	now  func() time.Time
}

// New returns a Store writing through w and reading through r.
func New(w, r *sql.DB, d Dialect, migrations []Migration, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{w: w, r: r, d: d, mig: migrations, now: now}
}

// casAttempts bounds the retries of a compare-and-swap update under
// contention before it gives up with model.ErrStale.
const casAttempts = 10

// updateCAS is the compare-and-swap loop behind UpdateApp and
// UpdateConnection. load reads the current row; change derives the new one
// from it outside any transaction (it may call the store); write stores it
// in a transaction only if the row is still at old's version, returning
// model.ErrStale otherwise, and then change runs again on the fresh row.
func updateCAS[T any](ctx context.Context, s *Store, op string, load func() (T, error),
	change func(old T) (T, error), write func(tx *sql.Tx, old, next T) error) (T, error) {
	var zero T
	for attempt := range casAttempts {
		old, err := load()
		if err != nil {
			return zero, err
		}
		next, err := change(old)
		if err != nil {
			return zero, err
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error { return write(tx, old, next) })
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, model.ErrStale) {
			return zero, s.wrap(op, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return zero, s.wrap(op, err)
		}
	}
	return zero, s.wrap(op, model.ErrStale)
}

// backoff sleeps a little, growing with the attempt, so contending updaters
// spread out instead of colliding again at once.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(attempt+1) * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wrap turns a driver error into a store error carrying the right sentinel.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: %s: %w", op, model.ErrNotFound)
	case errors.Is(err, model.ErrNotFound), errors.Is(err, model.ErrConflict),
		errors.Is(err, model.ErrStale), errors.Is(err, model.ErrUnavailable):
		return fmt.Errorf("store: %s: %w", op, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("store: %s: %w", op, err)
	case s.d.IsUnique != nil && s.d.IsUnique(err):
		return fmt.Errorf("store: %s: %w", op, model.ErrConflict)
	case s.d.IsForeignKey != nil && s.d.IsForeignKey(err):
		return fmt.Errorf("store: %s: %w", op, model.ErrNotFound)
	case s.d.IsUnavailable != nil && s.d.IsUnavailable(err):
		return fmt.Errorf("store: %s: %w: %w", op, model.ErrUnavailable, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w: %w", s.d.Name, model.ErrUnavailable, err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping %s: %w: %w", s.d.Name, model.ErrUnavailable, err)
		}
	}
	return nil
}

// inTx runs fn in a write transaction and commits it when fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) notify(ctx context.Context, tx *sql.Tx, kind, id string) error {
	if s.d.Notify == nil {
		return nil
	}
	return s.d.Notify(ctx, tx, kind, id)
}

// Times are stored as Unix nanoseconds (UTC) in both backends so that they
// round-trip exactly; the zero time is NULL.

func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// Lists are stored as JSON arrays; an empty list reads back as nil.

func jsonList[T ~string](xs []T) string {
	if len(xs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(xs) // a []~string always marshals
	return string(b)
}

func parseList[T ~string](s string) ([]T, error) {
	var xs []T
	if err := json.Unmarshal([]byte(s), &xs); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(xs) == 0 {
		return nil, nil
	}
	return xs, nil
}

// blob stores an empty byte slice as NULL, so "no credentials" has one form.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// affected returns none when res changed no row (a missing record, or a
// compare-and-swap that lost), and the driver's error if it cannot tell.
func affected(res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}
