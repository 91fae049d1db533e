package apps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// Bounds on an app's own OAuth client.
const (
	MaxClientIDLen     = 512
	MaxClientSecretLen = 4096
	MaxScopes          = 100
	MaxScopeLen        = 512
)

// ProviderInput is an app's own OAuth client for one provider.
type ProviderInput struct {
	ClientID     string
	ClientSecret string
	// Scopes replace the provider's default scopes for this app; empty keeps
	// the defaults.
	Scopes []string
}

// PutProvider stores (or replaces) the app's own OAuth client for an oauth2
// provider; the client secret is stored encrypted and never returned. Flows
// started afterwards use it instead of the broker-wide client.
func (s *Service) PutProvider(ctx context.Context, appID, providerID string, in ProviderInput) (model.AppProvider, error) {
	if err := s.checkOAuthProvider(providerID); err != nil {
		return model.AppProvider{}, err
	}
	if err := checkClient(in); err != nil {
		return model.AppProvider{}, err
	}
	if _, err := s.store.GetApp(ctx, appID); err != nil {
		return model.AppProvider{}, notFound(err)
	}
	enc, err := s.keys.Encrypt([]byte(in.ClientSecret), model.AppProviderAAD(appID, providerID))
	if err != nil {
		return model.AppProvider{}, fmt.Errorf("apps: encrypting the client secret: %w", err)
	}
	now := s.now().UTC()
	p := model.AppProvider{
		AppID: appID, ProviderID: providerID, ClientID: in.ClientID, ClientSecret: enc,
		Scopes: append([]string{}, in.Scopes...), CreatedAt: now, UpdatedAt: now,
	}
	if old, err := s.store.GetAppProvider(ctx, appID, providerID); err == nil {
		p.CreatedAt = old.CreatedAt
	} else if !errors.Is(err, model.ErrNotFound) {
		return model.AppProvider{}, fmt.Errorf("apps: reading the app's provider client: %w", err)
	}
	if err := s.store.PutAppProvider(ctx, p); err != nil {
		return model.AppProvider{}, fmt.Errorf("apps: storing the app's provider client: %w", err)
	}
	s.onChange(appID)
	return p, nil
}

// DeleteProvider removes the app's own client for a provider; the broker-wide
// client (if any) is used again.
func (s *Service) DeleteProvider(ctx context.Context, appID, providerID string) error {
	if err := s.store.DeleteAppProvider(ctx, appID, providerID); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return &model.Error{Code: model.CodeNotFound, Message: "the app has no own client for this provider", Err: err}
		}
		return fmt.Errorf("apps: deleting the app's provider client: %w", err)
	}
	s.onChange(appID)
	return nil
}

func (s *Service) checkOAuthProvider(id string) error {
	var p *providers.Provider
	ok := false
	if s.providers != nil {
		p, ok = s.providers.Get(id)
	}
	if !ok {
		return &model.Error{Code: model.CodeNotFound, Field: "providerId", Message: fmt.Sprintf("no provider %q", clip(id))}
	}
	if p.Kind != "" && p.Kind != providers.KindOAuth2 {
		return model.Invalid("providerId", "provider %q connects with %s credentials, not an OAuth client", id, p.Kind)
	}
	return nil
}

func checkClient(in ProviderInput) error {
	switch {
	case in.ClientID == "" || len(in.ClientID) > MaxClientIDLen || strings.ContainsFunc(in.ClientID, unicode.IsControl):
		return model.Invalid("clientId", "must be 1 to %d characters without control characters", MaxClientIDLen)
	case in.ClientSecret == "" || len(in.ClientSecret) > MaxClientSecretLen:
		// Never echo the value: it is a secret.
		return model.Invalid("clientSecret", "must be 1 to %d characters", MaxClientSecretLen)
	case len(in.Scopes) > MaxScopes:
		return model.Invalid("scopes", "at most %d scopes, got %d", MaxScopes, len(in.Scopes))
	}
	for i, sc := range in.Scopes {
		if sc == "" || len(sc) > MaxScopeLen || strings.ContainsFunc(sc, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return model.Invalid(fmt.Sprintf("scopes[%d]", i), "%q is not a scope: 1 to %d characters without spaces", clip(sc), MaxScopeLen)
		}
	}
	return nil
}
