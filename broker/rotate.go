package broker

import (
	"context"
	"fmt"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
)

// RotateKeys re-encrypts every stored secret (connection credentials, apps'
// own provider client secrets, webhook secrets) that is not under the key
// ring's primary key, batch rows at a time. Each row is rewritten with a
// compare-and-swap update, so a replica refreshing the same connection
// meanwhile never loses its newer token: the rotation retries on the new
// value instead. Replicas keep serving throughout, since every key of the
// ring still decrypts. It returns how many records it re-encrypted.
func RotateKeys(ctx context.Context, st store.Store, ring *secrets.KeyRing, batch int) (int, error) {
	if batch <= 0 {
		batch = 100
	}
	n := 0
	after := ""
	for {
		conns, err := st.ListConnections(ctx, store.ConnectionFilter{After: after, Limit: batch})
		if err != nil {
			return n, fmt.Errorf("broker: rotate: list connections: %w", err)
		}
		for _, c := range conns {
			if len(c.Credentials) == 0 || !ring.NeedsRotation(c.Credentials) {
				continue
			}
			_, err := st.UpdateConnection(ctx, c.ID, func(cur model.Connection) (model.Connection, error) {
				if len(cur.Credentials) == 0 || !ring.NeedsRotation(cur.Credentials) {
					return cur, nil
				}
				ct, err := reseal(ring, cur.Credentials, []byte(cur.ID))
				cur.Credentials = ct
				return cur, err
			})
			if err != nil {
				return n, fmt.Errorf("broker: rotate: connection %s: %w", c.ID, err)
			}
			n++
		}
		if len(conns) < batch {
			break
		}
		after = conns[len(conns)-1].ID
	}

	afterApp, afterProv := "", ""
	for {
		aps, err := st.ListAppProviders(ctx, afterApp, afterProv, batch)
		if err != nil {
			return n, fmt.Errorf("broker: rotate: list app providers: %w", err)
		}
		for _, p := range aps {
			if len(p.ClientSecret) == 0 || !ring.NeedsRotation(p.ClientSecret) {
				continue
			}
			ct, err := reseal(ring, p.ClientSecret, model.AppProviderAAD(p.AppID, p.ProviderID))
			if err != nil {
				return n, fmt.Errorf("broker: rotate: app provider %s/%s: %w", p.AppID, p.ProviderID, err)
			}
			p.ClientSecret = ct
			if err := st.PutAppProvider(ctx, p); err != nil {
				return n, fmt.Errorf("broker: rotate: app provider %s/%s: %w", p.AppID, p.ProviderID, err)
			}
			n++
		}
		if len(aps) < batch {
			break
		}
		afterApp, afterProv = aps[len(aps)-1].AppID, aps[len(aps)-1].ProviderID
	}

	for offset := 0; ; offset += batch {
		apps, _, err := st.QueryApps(ctx, store.AppQuery{Limit: batch, Offset: offset})
		if err != nil {
			return n, fmt.Errorf("broker: rotate: list apps: %w", err)
		}
		// The secret a webhook-secret rotation replaced still signs during
		// its grace: it is re-sealed too.
		stale := func(ct []byte) bool { return len(ct) > 0 && ring.NeedsRotation(ct) }
		for _, a := range apps {
			if !stale(a.WebhookSecret) && !stale(a.WebhookSecretPrev) {
				continue
			}
			_, err := st.UpdateApp(ctx, a.ID, func(cur model.App) (model.App, error) {
				for _, p := range []*[]byte{&cur.WebhookSecret, &cur.WebhookSecretPrev} {
					if !stale(*p) {
						continue
					}
					ct, err := reseal(ring, *p, model.WebhookSecretAAD(cur.ID))
					if err != nil {
						return cur, err
					}
					*p = ct
				}
				return cur, nil
			})
			if err != nil {
				return n, fmt.Errorf("broker: rotate: app %s: %w", a.ID, err)
			}
			n++
		}
		if len(apps) < batch {
			break
		}
	}
	return n, nil
}

func reseal(ring *secrets.KeyRing, ct, aad []byte) ([]byte, error) {
	pt, err := ring.Decrypt(ct, aad)
	if err != nil {
		return nil, err
	}
	return ring.Encrypt(pt, aad)
}
