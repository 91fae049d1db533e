package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/providers"
)

// Credentials are what an end user typed: an API key, or a username and
// password. They are never logged nor returned.
type Credentials struct {
	APIKey   string
	Username string
	Password string
}

// CredentialsRequest is the body of POST /v1/connect/credentials.
type CredentialsRequest struct {
	ProviderID  string
	ScheduleID  string
	Credentials Credentials
}

// ConnectCredentials stores a credentials connection (provider kind apikey
// or basic). When the provider has a test URL the credentials are tried
// there first: a refusal is invalid_argument and nothing is stored.
// Connecting the same key, or the same username, again for the same app,
// provider and schedule updates that connection.
func (s *Service) ConnectCredentials(ctx context.Context, app *model.App, req CredentialsRequest) (model.Connection, error) {
	p, err := s.provider(req.ProviderID, providers.KindAPIKey, providers.KindBasic)
	if err != nil {
		return model.Connection{}, err
	}
	if err := CheckScheduleID(req.ScheduleID); err != nil {
		return model.Connection{}, err
	}
	v, err := s.verifyCredentials(ctx, p, req.Credentials)
	if err != nil {
		s.metrics.Connect(ctx, p.ID, flowResult(err))
		return model.Connection{}, err
	}
	c, err := s.saveCredentials(ctx, app.ID, req.ScheduleID, v)
	s.metrics.Connect(ctx, p.ID, flowResult(err))
	return c, err
}

// flowResult is the broker.connect.flows result of a flow the app drives
// itself (code exchange, credentials): the provider's refusal is reject,
// anything else that failed internal.
func flowResult(err error) string {
	var me *model.Error
	switch {
	case err == nil:
		return telemetry.ConnectConnected
	case errors.As(err, &me) && me.Code == model.CodeInvalidArgument:
		return telemetry.ConnectReject
	}
	return telemetry.ConnectInternal
}

// verified is what verifyCredentials accepted, ready to be stored.
type verified struct {
	provider *providers.Provider
	creds    Credentials
	tok      model.Token
	identity string
}

// verifyCredentials checks what the user typed for p and, when p has a test
// URL, tries it there: a refusal is invalid_argument on "credentials"
// wrapping providers.ErrRejected, and nothing is stored either way.
func (s *Service) verifyCredentials(ctx context.Context, p *providers.Provider, c Credentials) (verified, error) {
	v := verified{provider: p, creds: c}
	switch p.Kind {
	case providers.KindAPIKey:
		if c.Username != "" || c.Password != "" {
			return v, model.Invalid("credentials", "provider %q takes an apiKey, not a username and password", p.ID)
		}
		if err := checkSecret("credentials.apiKey", c.APIKey); err != nil {
			return v, err
		}
		v.tok, v.identity = model.Token{APIKey: c.APIKey}, "apikey:"+c.APIKey
	case providers.KindBasic:
		if c.APIKey != "" {
			return v, model.Invalid("credentials", "provider %q takes a username and password, not an apiKey", p.ID)
		}
		if err := checkText("credentials.username", c.Username, MaxCredentialLen, true); err != nil {
			return v, err
		}
		if strings.Contains(c.Username, ":") {
			// HTTP Basic cannot carry it: the first colon ends the user-id.
			return v, model.Invalid("credentials.username", "must not contain a colon")
		}
		if err := checkSecret("credentials.password", c.Password); err != nil {
			return v, err
		}
		v.tok, v.identity = model.Token{Username: c.Username, Password: c.Password}, "basic:"+c.Username
	default:
		return v, model.Invalid("providerId", "provider %q does not connect with credentials", p.ID)
	}
	if p.TestURL != "" {
		switch err := p.Test(ctx, s.hc, v.tok); {
		case errors.Is(err, providers.ErrRejected):
			return v, &model.Error{Code: model.CodeInvalidArgument, Field: "credentials",
				Message: "the provider rejected these credentials", Err: err}
		case err != nil:
			return v, fmt.Errorf("connect: testing credentials at %s: %w", p.ID, errors.Join(model.ErrUpstreamUnavailable, err))
		}
	}
	return v, nil
}

// saveCredentials stores a verified credentials connection.
func (s *Service) saveCredentials(ctx context.Context, appID, scheduleID string, v verified) (model.Connection, error) {
	conn := model.Connection{
		AppID: appID, ProviderID: v.provider.ID, ScheduleID: scheduleID,
		AccountID: credentialAccountID(v.identity), Scopes: []string{}, ClientSource: model.ClientNone,
	}
	if v.provider.Kind == providers.KindBasic {
		conn.AccountName = v.creds.Username
		if strings.Contains(v.creds.Username, "@") {
			conn.AccountEmail = v.creds.Username
		}
	}
	stored, _, err := s.tok.Save(ctx, conn, v.tok)
	if err != nil {
		return model.Connection{}, fmt.Errorf("connect: saving the connection: %w", err)
	}
	return stored, nil
}

// credentialAccountID is the hex SHA-256 of the credential's identity (the
// key, or the username), so the same key reconnects to the same connection
// and the key itself is not stored in the clear.
func credentialAccountID(identity string) string {
	h := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(h[:])
}

// checkSecret: required, bounded, no control characters (keys and
// passwords go into headers as they are, where CR and LF would split them).
func checkSecret(field, v string) error {
	if v == "" {
		return model.Invalid(field, "is required")
	}
	if len(v) > MaxCredentialLen {
		return model.Invalid(field, "is longer than %d bytes", MaxCredentialLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return model.Invalid(field, "must not contain control characters")
		}
	}
	return nil
}
