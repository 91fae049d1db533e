package rotation

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
)

// DefaultBatch is the page size when Run is given none.
const DefaultBatch = 100

// errCurrent aborts a compare-and-swap whose fresh row needs no re-seal
// (already under the primary key, or emptied meanwhile): nothing is written.
var errCurrent = errors.New("rotation: already under the primary key")

// Run re-seals every stored secret that is not under the ring's primary key,
// batch rows per read, and returns how many rows it rewrote. See the package
// doc for why a concurrent write is never lost.
func Run(ctx context.Context, st store.Store, ring *secrets.KeyRing, batch int) (int, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	r := rotator{st: st, ring: ring, batch: batch}
	for _, step := range []func(context.Context) error{r.connections, r.appProviders, r.apps} {
		if err := step(ctx); err != nil {
			return r.n, err
		}
	}
	return r.n, nil
}

type rotator struct {
	st    store.Store
	ring  *secrets.KeyRing
	batch int
	n     int
}

// stale reports whether ct holds a secret sealed under an older key.
func (r *rotator) stale(ct []byte) bool { return len(ct) > 0 && r.ring.NeedsRotation(ct) }

func (r *rotator) reseal(ct, aad []byte) ([]byte, error) {
	pt, err := r.ring.Decrypt(ct, aad)
	if err != nil {
		return nil, err
	}
	return r.ring.Encrypt(pt, aad)
}

// done counts a row the compare-and-swap rewrote; a row that no longer
// needed it, or vanished, is not an error.
func (r *rotator) done(err error) error {
	switch {
	case err == nil:
		r.n++
		return nil
	case errors.Is(err, errCurrent), errors.Is(err, model.ErrNotFound):
		return nil
	}
	return err
}

func (r *rotator) connections(ctx context.Context) error {
	f := store.ConnectionFilter{Limit: r.batch}
	for {
		page, err := r.st.ListConnections(ctx, f)
		if err != nil {
			return fmt.Errorf("rotation: list connections: %w", err)
		}
		for _, c := range page {
			if !r.stale(c.Credentials) {
				continue
			}
			_, err := r.st.UpdateConnection(ctx, c.ID, func(cur model.Connection) (model.Connection, error) {
				if !r.stale(cur.Credentials) {
					return cur, errCurrent
				}
				ct, err := r.reseal(cur.Credentials, model.CredentialsAAD(cur.ID))
				cur.Credentials = ct
				return cur, err
			})
			if err := r.done(err); err != nil {
				return fmt.Errorf("rotation: connection %s: %w", c.ID, err)
			}
		}
		if len(page) < r.batch {
			return nil
		}
		f.After = page[len(page)-1].ID
	}
}

func (r *rotator) appProviders(ctx context.Context) error {
	afterApp, afterProv := "", ""
	for {
		page, err := r.st.ListAppProviders(ctx, afterApp, afterProv, r.batch)
		if err != nil {
			return fmt.Errorf("rotation: list app providers: %w", err)
		}
		for _, p := range page {
			if !r.stale(p.ClientSecret) {
				continue
			}
			aad := model.AppProviderAAD(p.AppID, p.ProviderID)
			err := r.st.ResealAppProvider(ctx, p.AppID, p.ProviderID, func(cur []byte) ([]byte, error) {
				if !r.stale(cur) {
					return nil, errCurrent
				}
				return r.reseal(cur, aad)
			})
			if err := r.done(err); err != nil {
				return fmt.Errorf("rotation: app provider %s/%s: %w", p.AppID, p.ProviderID, err)
			}
		}
		if len(page) < r.batch {
			return nil
		}
		afterApp, afterProv = page[len(page)-1].AppID, page[len(page)-1].ProviderID
	}
}

// apps re-seals webhook secrets; the one a webhook-secret rotation replaced
// still signs during its grace, so it is re-sealed too.
func (r *rotator) apps(ctx context.Context) error {
	after := ""
	for {
		page, err := r.st.ListApps(ctx, after, r.batch)
		if err != nil {
			return fmt.Errorf("rotation: list apps: %w", err)
		}
		for _, a := range page {
			if !r.stale(a.WebhookSecret) && !r.stale(a.WebhookSecretPrev) {
				continue
			}
			_, err := r.st.UpdateApp(ctx, a.ID, func(cur model.App) (model.App, error) {
				if !r.stale(cur.WebhookSecret) && !r.stale(cur.WebhookSecretPrev) {
					return cur, errCurrent
				}
				for _, p := range []*[]byte{&cur.WebhookSecret, &cur.WebhookSecretPrev} {
					if !r.stale(*p) {
						continue
					}
					ct, err := r.reseal(*p, model.WebhookSecretAAD(cur.ID))
					if err != nil {
						return cur, err
					}
					*p = ct
				}
				return cur, nil
			})
			if err := r.done(err); err != nil {
				return fmt.Errorf("rotation: app %s: %w", a.ID, err)
			}
		}
		if len(page) < r.batch {
			return nil
		}
		after = page[len(page)-1].ID
	}
}
