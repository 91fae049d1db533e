package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

const connColumns = `id, app_id, provider_id, schedule_id, account_id, account_email, account_name,
	status, scopes, client_source, credentials, token_expiry, last_refreshed_at, last_used_at,
	last_error, created_at, updated_at, version, calendars`

func scanConn(sc scanner) (model.Connection, error) {
	var c model.Connection
	var status, source, scopes, cals string
	var expiry, refreshed, used, created, updated sql.NullInt64
	err := sc.Scan(&c.ID, &c.AppID, &c.ProviderID, &c.ScheduleID, &c.AccountID, &c.AccountEmail,
		&c.AccountName, &status, &scopes, &source, &c.Credentials, &expiry, &refreshed, &used,
		&c.LastError, &created, &updated, &c.Version, &cals)
	if err != nil {
		return c, err
	}
	c.Status, c.ClientSource = model.ConnectionStatus(status), model.ClientSource(source)
	c.Scopes, err = parseList[string](scopes)
	if err == nil {
		c.Calendars, err = parseList[string](cals)
	}
	c.Credentials = nonEmpty(c.Credentials)
	c.TokenExpiry, c.LastRefreshedAt, c.LastUsedAt = fromNanos(expiry), fromNanos(refreshed), fromNanos(used)
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	return c, err
}

// findConnection reads a connection by its unique key (app, provider,
// schedule, account): the unique index connections_account answers it.
const findConnection = `SELECT ` + connColumns + ` FROM connections
	WHERE app_id = $1 AND provider_id = $2 AND schedule_id = $3 AND account_id = $4`

func accountArgs(k store.AccountKey) []any {
	return []any{k.AppID, k.ProviderID, k.ScheduleID, k.AccountID}
}

// FindConnection returns the connection of an account, or model.ErrNotFound.
func (s *Store) FindConnection(ctx context.Context, k store.AccountKey) (model.Connection, error) {
	c, err := scanConn(s.r.QueryRowContext(ctx, findConnection, accountArgs(k)...))
	return c, s.wrap("find connection", err)
}

// upsertAttempts bounds the retries of UpsertConnection when two callers
// create the same account at once and one loses the unique key race.
const upsertAttempts = 3

// UpsertConnectionWithEvent is UpsertConnection writing ev's event in the
// same transaction.
func (s *Store) UpsertConnectionWithEvent(ctx context.Context, c model.Connection, seal func(id string) ([]byte, error), ev store.ConnectionEvent) (model.Connection, bool, error) {
	if c.ID == "" || c.AppID == "" {
		return model.Connection{}, false, errors.New("store: upsert connection: id and app id are required")
	}
	var out model.Connection
	var created bool
	var err error
	for attempt := 0; attempt < upsertAttempts; attempt++ {
		out, created, err = s.upsertOnce(ctx, c, seal, ev)
		if err == nil {
			return out, created, nil
		}
		if s.d.IsUnique == nil || !s.d.IsUnique(err) {
			break
		}
	}
	return model.Connection{}, false, s.wrap("upsert connection", err)
}

func (s *Store) upsertOnce(ctx context.Context, c model.Connection, seal func(id string) ([]byte, error), ev store.ConnectionEvent) (model.Connection, bool, error) {
	now := s.now().UTC()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now
	}
	var created bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanConn(tx.QueryRowContext(ctx, findConnection+s.d.ForUpdate, accountArgs(store.KeyOf(c))...))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			if c.CreatedAt.IsZero() {
				c.CreatedAt = now
			}
			c.Version = 1
		case err != nil:
			return err
		default:
			c.ID, c.CreatedAt, c.Version = old.ID, old.CreatedAt, old.Version+1
			// The calendar selection belongs to the connection, not to one
			// grant: connecting the same account again keeps it.
			c.Calendars = old.Calendars
		}
		if c.Credentials, err = seal(c.ID); err != nil {
			return fmt.Errorf("seal credentials: %w", err)
		}
		c.Credentials = nonEmpty(c.Credentials)
		if created {
			_, err = tx.ExecContext(ctx, `INSERT INTO connections (`+connColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
				c.ID, c.AppID, c.ProviderID, c.ScheduleID, c.AccountID, c.AccountEmail, c.AccountName,
				string(c.Status), jsonList(c.Scopes), string(c.ClientSource), blob(c.Credentials),
				nanos(c.TokenExpiry), nanos(c.LastRefreshedAt), nanos(c.LastUsedAt), c.LastError,
				c.CreatedAt.UnixNano(), c.UpdatedAt.UnixNano(), c.Version, jsonList(c.Calendars))
			if err != nil {
				return err
			}
		} else if err := s.writeConn(ctx, tx, c, old.Version); err != nil {
			return err
		}
		var prev *model.Connection
		if !created {
			prev = &old
		}
		if err := s.connEvent(ctx, tx, ev, prev, c); err != nil {
			return err
		}
		return s.notify(ctx, tx, string(store.ChangeConnection), c.ID)
	})
	if err != nil {
		return model.Connection{}, false, err
	}
	return c, created, nil
}

// writeConn overwrites every mutable field of c if the row is still at
// version old; a row that moved on is model.ErrStale.
func (s *Store) writeConn(ctx context.Context, tx *sql.Tx, c model.Connection, old int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE connections SET account_email = $1, account_name = $2,
		status = $3, scopes = $4, client_source = $5, credentials = $6, token_expiry = $7,
		last_refreshed_at = $8, last_used_at = $9, last_error = $10, updated_at = $11, version = $12,
		calendars = $15
		WHERE id = $13 AND version = $14`,
		c.AccountEmail, c.AccountName, string(c.Status), jsonList(c.Scopes), string(c.ClientSource),
		blob(c.Credentials), nanos(c.TokenExpiry), nanos(c.LastRefreshedAt), nanos(c.LastUsedAt),
		c.LastError, c.UpdatedAt.UnixNano(), c.Version, c.ID, old, jsonList(c.Calendars))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return model.ErrStale
	}
	return nil
}

// GetConnection returns the connection only if it belongs to appID.
func (s *Store) GetConnection(ctx context.Context, appID, id string) (model.Connection, error) {
	c, err := scanConn(s.r.QueryRowContext(ctx, `SELECT `+connColumns+` FROM connections
		WHERE id = $1 AND app_id = $2`, id, appID))
	return c, s.wrap("get connection", err)
}

// GetConnectionByID returns the connection whatever its app.
func (s *Store) GetConnectionByID(ctx context.Context, id string) (model.Connection, error) {
	c, err := scanConn(s.r.QueryRowContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id = $1`, id))
	return c, s.wrap("get connection", err)
}

// ListConnections returns the connections matching f, ordered by id, after
// the cursor f.After.
func (s *Store) ListConnections(ctx context.Context, f store.ConnectionFilter) ([]model.Connection, error) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.AppID != "" {
		add("app_id = ?", f.AppID)
	}
	if len(f.ScheduleIDs) > 0 {
		ph := make([]string, len(f.ScheduleIDs))
		for i, id := range f.ScheduleIDs {
			args = append(args, id)
			ph[i] = fmt.Sprintf("$%d", len(args))
		}
		conds = append(conds, "schedule_id IN ("+strings.Join(ph, ", ")+")")
	}
	if f.ProviderID != "" {
		add("provider_id = ?", f.ProviderID)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.After != "" {
		add("id > ?", f.After)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM connections%s ORDER BY id LIMIT $%d`,
		connColumns, where, len(args)), args...)
	if err != nil {
		return nil, s.wrap("list connections", err)
	}
	defer rows.Close()
	var cs []model.Connection
	for rows.Next() {
		c, err := scanConn(rows)
		if err != nil {
			return nil, s.wrap("list connections", err)
		}
		cs = append(cs, c)
	}
	return cs, s.wrap("list connections", rows.Err())
}

// UpdateConnection is a compare-and-swap on Version, like UpdateApp: fn runs
// outside any transaction and runs again on the fresh row when another
// writer got there first. The id, app, provider, schedule, account, CreatedAt
// and Version are the store's; UpdatedAt is stamped now unless fn set it.
func (s *Store) UpdateConnection(ctx context.Context, id string, fn func(model.Connection) (model.Connection, error)) (model.Connection, error) {
	return s.UpdateConnectionWithEvent(ctx, id, fn, nil)
}

// UpdateConnectionWithEvent is UpdateConnection writing ev's event in the
// same transaction (with the row the compare-and-swap succeeded on).
func (s *Store) UpdateConnectionWithEvent(ctx context.Context, id string, fn func(model.Connection) (model.Connection, error), ev store.ConnectionEvent) (model.Connection, error) {
	return updateCAS(ctx, s, "update connection",
		func() (model.Connection, error) { return s.GetConnectionByID(ctx, id) },
		func(old model.Connection) (model.Connection, error) {
			c, err := fn(old)
			if err != nil {
				return model.Connection{}, err
			}
			c.ID, c.AppID, c.ProviderID, c.ScheduleID, c.AccountID = old.ID, old.AppID, old.ProviderID, old.ScheduleID, old.AccountID
			c.CreatedAt, c.Version = old.CreatedAt, old.Version+1
			if c.UpdatedAt.Equal(old.UpdatedAt) {
				c.UpdatedAt = s.now().UTC()
			}
			c.Credentials = nonEmpty(c.Credentials)
			return c, nil
		},
		func(tx *sql.Tx, old, c model.Connection) error {
			if err := s.writeConn(ctx, tx, c, old.Version); err != nil {
				return err
			}
			if err := s.connEvent(ctx, tx, ev, &old, c); err != nil {
				return err
			}
			return s.notify(ctx, tx, string(store.ChangeConnection), id)
		})
}

// connEvent writes the event ev decides for a change from prev to next.
func (s *Store) connEvent(ctx context.Context, tx *sql.Tx, ev store.ConnectionEvent, prev *model.Connection, next model.Connection) error {
	if ev == nil {
		return nil
	}
	e, ok := ev(prev, next)
	if !ok {
		return nil
	}
	if err := s.enqueue(ctx, tx, e); err != nil {
		return fmt.Errorf("enqueue webhook: %w", err)
	}
	return nil
}
