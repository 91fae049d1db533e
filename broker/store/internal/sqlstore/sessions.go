package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

const sessionColumns = `id, app_id, provider_id, schedule_id, redirect_url, app_state, scopes,
	login_hint, pkce_verifier, client_source, binding_hash, expires_at, created_at`

func scanSession(sc scanner) (model.AuthSession, error) {
	var a model.AuthSession
	var scopes, source string
	var expires, created sql.NullInt64
	err := sc.Scan(&a.ID, &a.AppID, &a.ProviderID, &a.ScheduleID, &a.RedirectURL, &a.AppState,
		&scopes, &a.LoginHint, &a.PKCEVerifier, &source, &a.BindingHash, &expires, &created)
	if err != nil {
		return a, err
	}
	a.Scopes, err = parseList[string](scopes)
	a.ClientSource = model.ClientSource(source)
	a.BindingHash = nonEmpty(a.BindingHash)
	a.ExpiresAt, a.CreatedAt = fromNanos(expires), fromNanos(created)
	return a, err
}

// CreateAuthSession stores a new session; its app must exist
// (model.ErrNotFound otherwise) and its id must be new (model.ErrConflict).
func (s *Store) CreateAuthSession(ctx context.Context, a model.AuthSession) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now().UTC()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO auth_sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.ID, a.AppID, a.ProviderID, a.ScheduleID, a.RedirectURL, a.AppState, jsonList(a.Scopes),
		a.LoginHint, a.PKCEVerifier, string(a.ClientSource), blob(a.BindingHash),
		a.ExpiresAt.UnixNano(), a.CreatedAt.UnixNano())
	return s.wrap("create auth session", err)
}

// GetAuthSession returns the session if it has not expired at now.
func (s *Store) GetAuthSession(ctx context.Context, id string, now time.Time) (model.AuthSession, error) {
	a, err := scanSession(s.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM auth_sessions
		WHERE id = $1 AND expires_at > $2`, id, now.UnixNano()))
	return a, s.wrap("get auth session", err)
}

// CountAuthSessions counts the app's sessions unexpired at now (index
// auth_sessions_app).
func (s *Store) CountAuthSessions(ctx context.Context, appID string, now time.Time) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM auth_sessions WHERE app_id = $1 AND expires_at > $2`,
		appID, now.UnixNano()).Scan(&n)
	return n, s.wrap("count auth sessions", err)
}

// BindAuthSession sets the binding hash of an unexpired, unbound session in
// one conditional UPDATE, so of two binders only one succeeds.
func (s *Store) BindAuthSession(ctx context.Context, id string, bindingHash []byte, now time.Time) error {
	if len(bindingHash) == 0 {
		return model.Invalid("bindingHash", "must not be empty")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE auth_sessions SET binding_hash = $1
		WHERE id = $2 AND expires_at > $3 AND binding_hash IS NULL`, bindingHash, id, now.UnixNano())
	if err != nil {
		return s.wrap("bind auth session", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap("bind auth session", err)
	}
	if n == 1 {
		return nil
	}
	// Nothing changed: tell a bound session (conflict) from a missing or
	// expired one (not found).
	if _, err := s.GetAuthSession(ctx, id, now); err != nil {
		return err
	}
	return s.wrap("bind auth session", model.ErrConflict)
}

// ConsumeAuthSession deletes and returns an unexpired session in one
// DELETE ... RETURNING, so exactly one of concurrent callers gets it.
func (s *Store) ConsumeAuthSession(ctx context.Context, id string, now time.Time) (model.AuthSession, error) {
	a, err := scanSession(s.w.QueryRowContext(ctx, `DELETE FROM auth_sessions
		WHERE id = $1 AND expires_at > $2 RETURNING `+sessionColumns, id, now.UnixNano()))
	return a, s.wrap("consume auth session", err)
}

// DeleteExpiredAuthSessions removes sessions expired at now.
func (s *Store) DeleteExpiredAuthSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM auth_sessions WHERE expires_at <= $1`, now.UnixNano())
	if err != nil {
		return 0, s.wrap("delete expired auth sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), s.wrap("delete expired auth sessions", err)
}

// AcquireLease takes or extends the lease in one upsert whose update only
// applies when the lease is expired or already the holder's; the row count
// says who won.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return false, model.Invalid("lease", "name, holder and a positive ttl are required")
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
		name, holder, now.Add(ttl).UnixNano(), now.UnixNano())
	if err != nil {
		return false, s.wrap("acquire lease", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap("acquire lease", err)
	}
	return n == 1, nil
}

// ReleaseLease frees the lease if holder holds it; otherwise it does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return s.wrap("release lease", err)
}
