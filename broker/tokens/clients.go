package tokens

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// Clients chooses the OAuth client a connection is made, refreshed and
// revoked with: the app's own (stored sealed, AAD model.AppProviderAAD) or
// the broker-wide one.
type Clients struct {
	st   store.Store
	keys *secrets.KeyRing
}

// PickClient chooses the OAuth client for a new connection: the app's own
// client for the provider when it has one, else the broker-wide one. The
// source is stored on the connection so refresh and revoke use the same
// client. Neither = model.ErrNotFound.
func (cl *Clients) PickClient(ctx context.Context, appID string, p *providers.Provider) (providers.Client, model.ClientSource, error) {
	c, err := cl.appClient(ctx, appID, p)
	switch {
	case err == nil:
		return c, model.ClientApp, nil
	case !errors.Is(err, model.ErrNotFound):
		return providers.Client{}, "", err
	}
	if p.HasBrokerClient() {
		return providers.Client{ID: p.ClientID, Secret: p.ClientSecret}, model.ClientBroker, nil
	}
	return providers.Client{}, "", fmt.Errorf("tokens: no OAuth client for provider %q: %w", p.ID, model.ErrNotFound)
}

// ClientFor returns the client a connection was made with.
func (cl *Clients) ClientFor(ctx context.Context, appID string, p *providers.Provider, src model.ClientSource) (providers.Client, error) {
	switch src {
	case model.ClientApp:
		return cl.appClient(ctx, appID, p)
	case model.ClientBroker:
		if p.HasBrokerClient() {
			return providers.Client{ID: p.ClientID, Secret: p.ClientSecret}, nil
		}
		return providers.Client{}, fmt.Errorf("tokens: provider %q has no broker-wide client: %w", p.ID, model.ErrNotFound)
	}
	return providers.Client{}, fmt.Errorf("tokens: connection has no OAuth client source: %w", model.ErrNotFound)
}

// appClient reads and decrypts the app's own client for p.
func (cl *Clients) appClient(ctx context.Context, appID string, p *providers.Provider) (providers.Client, error) {
	ap, err := cl.st.GetAppProvider(ctx, appID, p.ID)
	if err != nil {
		return providers.Client{}, fmt.Errorf("tokens: app's own client for %q: %w", p.ID, err)
	}
	secret, err := cl.keys.Decrypt(ap.ClientSecret, model.AppProviderAAD(appID, p.ID))
	if err != nil {
		return providers.Client{}, fmt.Errorf("tokens: decrypting app's own client secret: %w", err)
	}
	return providers.Client{ID: ap.ClientID, Secret: string(secret)}, nil
}
