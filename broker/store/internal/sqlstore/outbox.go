package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

const webhookColumns = `id, app_id, type, payload, attempts, next_attempt_at, last_error,
	delivered_at, created_at`

func scanWebhook(sc scanner) (model.WebhookEvent, error) {
	var e model.WebhookEvent
	var next, delivered, created sql.NullInt64
	err := sc.Scan(&e.ID, &e.AppID, &e.Type, &e.Payload, &e.Attempts, &next, &e.LastError, &delivered, &created)
	e.Payload = nonEmpty(e.Payload)
	e.NextAttemptAt, e.DeliveredAt, e.CreatedAt = fromNanos(next), fromNanos(delivered), fromNanos(created)
	return e, err
}

func (s *Store) scanWebhooks(rows *sql.Rows, err error) ([]model.WebhookEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []model.WebhookEvent
	for rows.Next() {
		e, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// EnqueueWebhook stores an event, due at NextAttemptAt (or CreatedAt, or now).
func (s *Store) EnqueueWebhook(ctx context.Context, e model.WebhookEvent) error {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now().UTC()
	}
	if e.NextAttemptAt.IsZero() {
		e.NextAttemptAt = e.CreatedAt
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO webhook_events (`+webhookColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.AppID, e.Type, blob(e.Payload), e.Attempts, e.NextAttemptAt.UnixNano(), e.LastError,
		nanos(e.DeliveredAt), e.CreatedAt.UnixNano())
	return s.wrap("enqueue webhook", err)
}

// ClaimWebhooks takes up to limit due, undelivered events (the longest due
// first; returned oldest first), counts the attempt and hides them until now+lockFor, in one
// UPDATE ... RETURNING; PostgreSQL adds SKIP LOCKED so replicas claiming at
// once take different events.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, limit int, lockFor time.Duration) ([]model.WebhookEvent, error) {
	if limit <= 0 {
		limit = 10
	}
	es, err := s.scanWebhooks(s.w.QueryContext(ctx, `UPDATE webhook_events
		SET next_attempt_at = $1, attempts = attempts + 1
		WHERE id IN (SELECT id FROM webhook_events
			WHERE delivered_at IS NULL AND next_attempt_at <= $2
			ORDER BY next_attempt_at, id LIMIT $3`+s.d.SkipLocked+`)
		RETURNING `+webhookColumns, now.Add(lockFor).UnixNano(), now.UnixNano(), limit))
	// RETURNING has no order of its own.
	slices.SortFunc(es, func(a, b model.WebhookEvent) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return es, s.wrap("claim webhooks", err)
}

// CompleteWebhook marks an event delivered.
func (s *Store) CompleteWebhook(ctx context.Context, id string, at time.Time) error {
	return s.updateWebhook(ctx, "complete webhook", `UPDATE webhook_events SET delivered_at = $1,
		last_error = '' WHERE id = $2`, at.UnixNano(), id)
}

// RetryWebhook records a failed attempt and when to try again.
func (s *Store) RetryWebhook(ctx context.Context, id string, next time.Time, lastErr string) error {
	return s.updateWebhook(ctx, "retry webhook", `UPDATE webhook_events SET next_attempt_at = $1,
		last_error = $2 WHERE id = $3`, next.UnixNano(), lastErr, id)
}

func (s *Store) updateWebhook(ctx context.Context, op, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(op, err)
	}
	if n == 0 {
		return s.wrap(op, model.ErrNotFound)
	}
	return nil
}

// ListWebhooks lists an app's events, newest first.
func (s *Store) ListWebhooks(ctx context.Context, appID string, limit int) ([]model.WebhookEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	es, err := s.scanWebhooks(s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_events
		WHERE app_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, appID, limit))
	return es, s.wrap("list webhooks", err)
}
