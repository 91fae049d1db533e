package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

const webhookColumns = `id, app_id, connection_id, type, payload, status, attempts, next_attempt_at,
	last_status_code, last_error, delivered_at, failed_at, created_at, seq`

func scanWebhook(sc scanner) (model.WebhookEvent, error) {
	var e model.WebhookEvent
	var status string
	var next, delivered, failed, created sql.NullInt64
	err := sc.Scan(&e.ID, &e.AppID, &e.ConnectionID, &e.Type, &e.Payload, &status, &e.Attempts, &next,
		&e.LastStatusCode, &e.LastError, &delivered, &failed, &created, &e.Seq)
	e.Status = model.DeliveryStatus(status)
	e.Payload = nonEmpty(e.Payload)
	e.NextAttemptAt, e.DeliveredAt, e.FailedAt = fromNanos(next), fromNanos(delivered), fromNanos(failed)
	e.CreatedAt = fromNanos(created)
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

// EnqueueWebhook stores a pending event, due at NextAttemptAt (or CreatedAt,
// or now). Its seq comes from the dialect (a sequence on PostgreSQL, the
// next number under SQLite's single writer).
func (s *Store) EnqueueWebhook(ctx context.Context, e model.WebhookEvent) error {
	return s.wrap("enqueue webhook", s.enqueue(ctx, s.w, e))
}

// execer is *sql.DB or *sql.Tx: an event can be written in the transaction
// of the change it reports.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) enqueue(ctx context.Context, x execer, e model.WebhookEvent) error {
	if e.ID == "" || e.AppID == "" {
		return errors.New("id and app id are required")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now().UTC()
	}
	if e.NextAttemptAt.IsZero() {
		e.NextAttemptAt = e.CreatedAt
	}
	_, err := x.ExecContext(ctx, `INSERT INTO webhook_events (id, app_id, connection_id, type, payload,
		status, attempts, next_attempt_at, last_error, created_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7, '', $8, `+s.nextSeq()+`)`,
		e.ID, e.AppID, e.ConnectionID, e.Type, blob(e.Payload), string(model.DeliveryPending),
		e.NextAttemptAt.UnixNano(), e.CreatedAt.UnixNano())
	return err
}

func (s *Store) nextSeq() string {
	if s.d.NextWebhookSeq != "" {
		return s.d.NextWebhookSeq
	}
	return `(SELECT COALESCE(MAX(seq), 0) + 1 FROM webhook_events)`
}

// ClaimWebhooks takes up to limit due, pending events (the longest due
// first; returned in seq order), counts the attempt and hides them until
// now+lockFor, in one UPDATE ... RETURNING; PostgreSQL adds SKIP LOCKED so
// replicas claiming at once take different events. An event with an earlier
// pending event of the same connection is not due: the earlier one is still
// being delivered or retried.
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, limit int, lockFor time.Duration) ([]model.WebhookEvent, error) {
	if limit <= 0 {
		limit = 10
	}
	es, err := s.scanWebhooks(s.w.QueryContext(ctx, `UPDATE webhook_events
		SET next_attempt_at = $1, attempts = attempts + 1
		WHERE id IN (SELECT e.id FROM webhook_events e
			WHERE e.status = 'pending' AND e.next_attempt_at <= $2
			AND (e.connection_id = '' OR NOT EXISTS (SELECT 1 FROM webhook_events p
				WHERE p.connection_id = e.connection_id AND p.status = 'pending' AND p.seq < e.seq))
			ORDER BY e.next_attempt_at, e.seq LIMIT $3`+s.d.SkipLocked+`)
		RETURNING `+webhookColumns, now.Add(lockFor).UnixNano(), now.UnixNano(), limit))
	// RETURNING has no order of its own.
	slices.SortFunc(es, func(a, b model.WebhookEvent) int { return cmpInt(a.Seq, b.Seq) })
	return es, s.wrap("claim webhooks", err)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReleaseWebhook undoes a claim that made no attempt.
func (s *Store) ReleaseWebhook(ctx context.Context, id string, attempt int, next time.Time) error {
	return s.updateWebhook(ctx, "release webhook", `UPDATE webhook_events SET next_attempt_at = $1,
		attempts = attempts - 1 WHERE id = $2 AND attempts = $3 AND status = 'pending'`, next.UnixNano(), id, attempt)
}

// CompleteWebhook marks an event delivered.
func (s *Store) CompleteWebhook(ctx context.Context, id string, at time.Time, statusCode int) error {
	return s.updateWebhook(ctx, "complete webhook", `UPDATE webhook_events SET status = 'delivered',
		delivered_at = $1, last_status_code = $2, last_error = '' WHERE id = $3`, at.UnixNano(), statusCode, id)
}

// RetryWebhook records a failed attempt and when to try again.
func (s *Store) RetryWebhook(ctx context.Context, id string, attempt int, next time.Time, statusCode int, lastErr string) error {
	return s.updateWebhook(ctx, "retry webhook", `UPDATE webhook_events SET next_attempt_at = $1,
		last_status_code = $2, last_error = $3 WHERE id = $4 AND attempts = $5 AND status = 'pending'`,
		next.UnixNano(), statusCode, lastErr, id, attempt)
}

// FailWebhook marks an event failed for good.
func (s *Store) FailWebhook(ctx context.Context, id string, attempt int, at time.Time, statusCode int, lastErr string) error {
	return s.updateWebhook(ctx, "fail webhook", `UPDATE webhook_events SET status = 'failed', failed_at = $1,
		last_status_code = $2, last_error = $3 WHERE id = $4 AND attempts = $5 AND status = 'pending'`,
		at.UnixNano(), statusCode, lastErr, id, attempt)
}

func (s *Store) updateWebhook(ctx context.Context, op, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return s.wrap(op, err)
	}
	return s.wrap(op, affected(res, model.ErrNotFound))
}

// GetWebhook returns one of an app's events.
func (s *Store) GetWebhook(ctx context.Context, appID, id string) (model.WebhookEvent, error) {
	e, err := scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_events
		WHERE id = $1 AND app_id = $2`, id, appID))
	return e, s.wrap("get webhook", err)
}

// ListWebhooks lists an app's events, newest first, after the cursor.
func (s *Store) ListWebhooks(ctx context.Context, f store.WebhookFilter) ([]model.WebhookEvent, error) {
	if f.AppID == "" {
		return nil, errors.New("store: list webhooks: an app id is required")
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	conds, args := []string{"app_id = $1"}, []any{f.AppID}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Status != "" {
		add("status = $%d", string(f.Status))
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if f.BeforeSeq > 0 {
		add("seq < $%d", f.BeforeSeq)
	}
	args = append(args, f.Limit)
	es, err := s.scanWebhooks(s.r.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_events
		WHERE `+strings.Join(conds, " AND ")+fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(args)), args...))
	return es, s.wrap("list webhooks", err)
}

// RedeliverWebhook queues a finished event again, due now, attempts reset.
func (s *Store) RedeliverWebhook(ctx context.Context, appID, id string, now time.Time) (model.WebhookEvent, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE webhook_events SET status = 'pending', attempts = 0,
		next_attempt_at = $1, delivered_at = NULL, failed_at = NULL
		WHERE id = $2 AND app_id = $3 AND status <> 'pending'`, now.UnixNano(), id, appID)
	if err != nil {
		return model.WebhookEvent{}, s.wrap("redeliver webhook", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return model.WebhookEvent{}, s.wrap("redeliver webhook", err)
	}
	e, gerr := s.GetWebhook(ctx, appID, id)
	if gerr != nil {
		return model.WebhookEvent{}, gerr
	}
	if n == 0 {
		return e, s.wrap("redeliver webhook", model.ErrConflict) // still pending
	}
	return e, nil
}

// PruneWebhooks deletes finished events older than their retention.
func (s *Store) PruneWebhooks(ctx context.Context, deliveredBefore, failedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events
		WHERE (status = 'delivered' AND delivered_at < $1) OR (status = 'failed' AND failed_at < $2) LIMIT $3)`,
		deliveredBefore.UnixNano(), failedBefore.UnixNano(), limit)
	if err != nil {
		return 0, s.wrap("prune webhooks", err)
	}
	n, err := res.RowsAffected()
	return int(n), s.wrap("prune webhooks", err)
}
