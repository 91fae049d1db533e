package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// CountConnections counts connections per status (store.Stats).
func (s *Store) CountConnections(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM connections GROUP BY status`)
	if err != nil {
		return nil, s.wrap("count connections", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, s.wrap("count connections", err)
		}
		out[st] = n
	}
	return out, s.wrap("count connections", rows.Err())
}

// WebhookBacklog counts pending webhook events and the creation time of the
// oldest (store.Stats).
func (s *Store) WebhookBacklog(ctx context.Context) (int64, time.Time, error) {
	var n int64
	var oldest sql.NullInt64
	err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*), MIN(created_at) FROM webhook_events WHERE status = 'pending'`).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, s.wrap("webhook backlog", err)
	}
	return n, fromNanos(oldest), nil
}
