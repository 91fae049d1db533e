package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

const appColumns = `id, name, description, logo_url, homepage_url, allowed_domains,
	allowed_redirect_uris, login_url, logout_url, webhook_url, permissions, rate_limit,
	secret_hash, webhook_secret, created_at, updated_at, version, webhook_secret_prev,
	webhook_secret_prev_until, webhooks_disabled_at`

func scanApp(sc scanner) (model.App, error) {
	var a model.App
	var domains, uris, perms string
	var created, updated, prevUntil, disabled sql.NullInt64
	err := sc.Scan(&a.ID, &a.Name, &a.Description, &a.LogoURL, &a.HomepageURL, &domains,
		&uris, &a.LoginURL, &a.LogoutURL, &a.WebhookURL, &perms, &a.RateLimit,
		&a.SecretHash, &a.WebhookSecret, &created, &updated, &a.Version, &a.WebhookSecretPrev,
		&prevUntil, &disabled)
	if err != nil {
		return a, err
	}
	if a.AllowedDomains, err = parseList[string](domains); err != nil {
		return a, err
	}
	if a.AllowedRedirectURIs, err = parseList[string](uris); err != nil {
		return a, err
	}
	if a.Permissions, err = parseList[model.Permission](perms); err != nil {
		return a, err
	}
	a.SecretHash, a.WebhookSecret = nonEmpty(a.SecretHash), nonEmpty(a.WebhookSecret)
	a.WebhookSecretPrev = nonEmpty(a.WebhookSecretPrev)
	a.CreatedAt, a.UpdatedAt = fromNanos(created), fromNanos(updated)
	a.WebhookSecretPrevUntil, a.WebhooksDisabledAt = fromNanos(prevUntil), fromNanos(disabled)
	return a, nil
}

// CreateApp stores a new app at version 1; an existing id is model.ErrConflict.
func (s *Store) CreateApp(ctx context.Context, a model.App) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now().UTC()
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, $18, $19)`,
		a.ID, a.Name, a.Description, a.LogoURL, a.HomepageURL, jsonList(a.AllowedDomains),
		jsonList(a.AllowedRedirectURIs), a.LoginURL, a.LogoutURL, a.WebhookURL,
		jsonList(a.Permissions), a.RateLimit, blob(a.SecretHash), blob(a.WebhookSecret),
		a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano(), blob(a.WebhookSecretPrev),
		nanos(a.WebhookSecretPrevUntil), nanos(a.WebhooksDisabledAt))
	return s.wrap("create app", err)
}

// GetApp returns the app or model.ErrNotFound.
func (s *Store) GetApp(ctx context.Context, id string) (model.App, error) {
	a, err := scanApp(s.r.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
	return a, s.wrap("get app", err)
}

var appSortColumns = map[string]string{"": "id", "id": "id", "createdDate": "created_at", "name": "name"}

// QueryApps filters, sorts (ties broken by id) and pages apps.
func (s *Store) QueryApps(ctx context.Context, q store.AppQuery) ([]model.App, int, error) {
	col, ok := appSortColumns[q.SortField]
	if !ok {
		return nil, 0, model.Invalid("sort.fieldName", "must be createdDate or name")
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, 0, model.Invalid("paging", "limit and offset must not be negative")
	}
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	where, args := "", []any{}
	if q.ID != "" {
		where, args = " WHERE id = $1", append(args, q.ID)
	}
	var total int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM apps`+where, args...).Scan(&total); err != nil {
		return nil, 0, s.wrap("query apps", err)
	}
	dir := " ASC"
	if q.SortDesc || q.SortField == "" { // the API's default order is id descending
		dir = " DESC"
	}
	order := col + dir
	if col != "id" {
		order += ", id" + dir
	}
	n := len(args)
	query := fmt.Sprintf(`SELECT %s FROM apps%s ORDER BY %s LIMIT $%d OFFSET $%d`, appColumns, where, order, n+1, n+2)
	rows, err := s.r.QueryContext(ctx, query, append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, s.wrap("query apps", err)
	}
	defer rows.Close()
	var apps []model.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, 0, s.wrap("query apps", err)
		}
		apps = append(apps, a)
	}
	return apps, total, s.wrap("query apps", rows.Err())
}

// ListApps pages through every app in id order after afterID.
func (s *Store) ListApps(ctx context.Context, afterID string, limit int) ([]model.App, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+appColumns+` FROM apps WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, s.wrap("list apps", err)
	}
	defer rows.Close()
	var apps []model.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, s.wrap("list apps", err)
		}
		apps = append(apps, a)
	}
	return apps, s.wrap("list apps", rows.Err())
}

// UpdateApp is a compare-and-swap on Version: fn runs outside any
// transaction (it may call the store), and its result is written only if the
// app is still at the version fn saw; otherwise fn runs again on the fresh
// app. The id, CreatedAt and Version are the store's; UpdatedAt is stamped
// now unless fn set it.
func (s *Store) UpdateApp(ctx context.Context, id string, fn func(model.App) (model.App, error)) (model.App, error) {
	return updateCAS(ctx, s, "update app",
		func() (model.App, error) { return s.GetApp(ctx, id) },
		func(old model.App) (model.App, error) {
			a, err := fn(old)
			if err != nil {
				return model.App{}, err
			}
			a.ID, a.CreatedAt, a.Version = old.ID, old.CreatedAt, old.Version+1
			if a.UpdatedAt.Equal(old.UpdatedAt) {
				a.UpdatedAt = s.now().UTC()
			}
			a.SecretHash, a.WebhookSecret = nonEmpty(a.SecretHash), nonEmpty(a.WebhookSecret)
			a.WebhookSecretPrev = nonEmpty(a.WebhookSecretPrev)
			return a, nil
		},
		func(tx *sql.Tx, old, a model.App) error {
			res, err := tx.ExecContext(ctx, `UPDATE apps SET name = $1, description = $2, logo_url = $3,
				homepage_url = $4, allowed_domains = $5, allowed_redirect_uris = $6, login_url = $7,
				logout_url = $8, webhook_url = $9, permissions = $10, rate_limit = $11, secret_hash = $12,
				webhook_secret = $13, updated_at = $14, version = $15, webhook_secret_prev = $16,
				webhook_secret_prev_until = $17, webhooks_disabled_at = $18
				WHERE id = $19 AND version = $20`,
				a.Name, a.Description, a.LogoURL, a.HomepageURL, jsonList(a.AllowedDomains),
				jsonList(a.AllowedRedirectURIs), a.LoginURL, a.LogoutURL, a.WebhookURL,
				jsonList(a.Permissions), a.RateLimit, blob(a.SecretHash), blob(a.WebhookSecret),
				a.UpdatedAt.UnixNano(), a.Version, blob(a.WebhookSecretPrev),
				nanos(a.WebhookSecretPrevUntil), nanos(a.WebhooksDisabledAt), id, old.Version)
			if err != nil {
				return err
			}
			if err := affected(res, model.ErrStale); err != nil {
				return err
			}
			return s.notify(ctx, tx, string(store.ChangeApp), id)
		})
}

// DeleteApp removes the app and its provider clients and disconnects its
// connections, wiping their credentials, in one transaction.
func (s *Store) DeleteApp(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if err := affected(res, model.ErrNotFound); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_providers WHERE app_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM auth_sessions WHERE app_id = $1`, id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE connections SET status = $1, credentials = NULL,
			token_expiry = NULL, updated_at = $2, version = version + 1
			WHERE app_id = $3 RETURNING id`,
			string(model.StatusDisconnected), s.now().UnixNano(), id)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var cid string
			if err := rows.Scan(&cid); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, cid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, string(store.ChangeApp), id); err != nil {
			return err
		}
		for _, cid := range ids {
			if err := s.notify(ctx, tx, string(store.ChangeConnection), cid); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrap("delete app", err)
}

const appProviderColumns = `app_id, provider_id, client_id, client_secret, scopes, created_at, updated_at`

func scanAppProvider(sc scanner) (model.AppProvider, error) {
	var p model.AppProvider
	var scopes string
	var created, updated sql.NullInt64
	if err := sc.Scan(&p.AppID, &p.ProviderID, &p.ClientID, &p.ClientSecret, &scopes, &created, &updated); err != nil {
		return p, err
	}
	var err error
	p.Scopes, err = parseList[string](scopes)
	p.ClientSecret = nonEmpty(p.ClientSecret)
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return p, err
}

// PutAppProvider creates or replaces the app's own client for a provider,
// keeping CreatedAt of an existing one. A missing app is model.ErrNotFound.
func (s *Store) PutAppProvider(ctx context.Context, p model.AppProvider) error {
	now := s.now().UTC()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = now
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO app_providers (`+appProviderColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (app_id, provider_id) DO UPDATE SET client_id = excluded.client_id,
				client_secret = excluded.client_secret, scopes = excluded.scopes,
				updated_at = excluded.updated_at`,
			p.AppID, p.ProviderID, p.ClientID, blob(p.ClientSecret), jsonList(p.Scopes),
			p.CreatedAt.UnixNano(), p.UpdatedAt.UnixNano())
		if err != nil {
			return err
		}
		return s.notify(ctx, tx, string(store.ChangeApp), p.AppID)
	})
	return s.wrap("put app provider", err)
}

// GetAppProvider returns the app's own client for a provider.
func (s *Store) GetAppProvider(ctx context.Context, appID, providerID string) (model.AppProvider, error) {
	p, err := scanAppProvider(s.r.QueryRowContext(ctx, `SELECT `+appProviderColumns+`
		FROM app_providers WHERE app_id = $1 AND provider_id = $2`, appID, providerID))
	return p, s.wrap("get app provider", err)
}

// DeleteAppProvider removes the app's own client for a provider.
func (s *Store) DeleteAppProvider(ctx context.Context, appID, providerID string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM app_providers WHERE app_id = $1 AND provider_id = $2`, appID, providerID)
		if err != nil {
			return err
		}
		if err := affected(res, model.ErrNotFound); err != nil {
			return err
		}
		return s.notify(ctx, tx, string(store.ChangeApp), appID)
	})
	return s.wrap("delete app provider", err)
}

// ListAppProviders pages through every app provider client by (appID,
// providerID).
func (s *Store) ListAppProviders(ctx context.Context, afterAppID, afterProviderID string, limit int) ([]model.AppProvider, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+appProviderColumns+` FROM app_providers
		WHERE app_id > $1 OR (app_id = $1 AND provider_id > $2)
		ORDER BY app_id, provider_id LIMIT $3`, afterAppID, afterProviderID, limit)
	if err != nil {
		return nil, s.wrap("list app providers", err)
	}
	defer rows.Close()
	var ps []model.AppProvider
	for rows.Next() {
		p, err := scanAppProvider(rows)
		if err != nil {
			return nil, s.wrap("list app providers", err)
		}
		ps = append(ps, p)
	}
	return ps, s.wrap("list app providers", rows.Err())
}

// ResealAppProvider is a compare-and-swap on the sealed client secret. No
// change is announced: the secret it holds is the same, only the key that
// seals it differs, and nothing caches the ciphertext.
func (s *Store) ResealAppProvider(ctx context.Context, appID, providerID string, fn func(sealed []byte) ([]byte, error)) error {
	_, err := updateCAS(ctx, s, "reseal app provider",
		func() ([]byte, error) {
			p, err := s.GetAppProvider(ctx, appID, providerID)
			return p.ClientSecret, err
		},
		fn,
		func(tx *sql.Tx, old, next []byte) error {
			// IS NOT DISTINCT FROM: "no secret" (NULL) equals itself.
			res, err := tx.ExecContext(ctx, `UPDATE app_providers SET client_secret = $1
				WHERE app_id = $2 AND provider_id = $3 AND client_secret IS NOT DISTINCT FROM $4`,
				blob(next), appID, providerID, blob(old))
			if err != nil {
				return err
			}
			return affected(res, model.ErrStale)
		})
	return err
}
