package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// CodeRequest is the body of POST /v1/connect/code: the app ran the
// authorization step itself and received the code on its own redirect URI.
type CodeRequest struct {
	ProviderID   string
	ScheduleID   string
	Code         string
	RedirectURI  string
	CodeVerifier string
	// Name labels the account when the provider tells no name.
	Name string
}

// ExchangeCode exchanges an app-received code with the app's client (its own
// for the provider, else the broker-wide one) and stores the connection.
// The redirect URI must be one of the app's allowedRedirectUris exactly:
// the provider checks it matches the authorization request, the broker
// checks the app owns it.
func (s *Service) ExchangeCode(ctx context.Context, app *model.App, req CodeRequest) (model.Connection, error) {
	p, err := s.provider(req.ProviderID, providers.KindOAuth2)
	if err != nil {
		return model.Connection{}, err
	}
	if err := CheckScheduleID(req.ScheduleID); err != nil {
		return model.Connection{}, err
	}
	if err := checkText("code", req.Code, MaxCodeLen, true); err != nil {
		return model.Connection{}, err
	}
	if req.RedirectURI == "" {
		return model.Connection{}, model.Invalid("redirectUri", "is required")
	}
	if !slices.Contains(app.AllowedRedirectURIs, req.RedirectURI) {
		return model.Connection{}, model.Invalid("redirectUri", "is not one of the app's allowed redirect URIs")
	}
	if req.CodeVerifier != "" && !validVerifier(req.CodeVerifier) {
		return model.Connection{}, model.Invalid("codeVerifier", "must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)")
	}
	if err := checkText("name", req.Name, MaxNameLen, false); err != nil {
		return model.Connection{}, err
	}
	_, src, err := s.oauthClient(ctx, app.ID, p)
	if err != nil {
		return model.Connection{}, err
	}
	// Counted here once the request is valid; the browser flow is counted
	// where its result goes back to the app (redirectBack).
	c, err := s.exchangeAndSave(ctx, exchange{
		appID: app.ID, provider: p, scheduleID: req.ScheduleID, source: src,
		redirectURI: req.RedirectURI, code: req.Code, verifier: req.CodeVerifier,
		scopes: p.Scopes, name: req.Name, appFacing: true,
	})
	s.metrics.Connect(ctx, p.ID, flowResult(err))
	return c, err
}

// exchange is one authorization code to turn into a connection.
type exchange struct {
	appID       string
	provider    *providers.Provider
	scheduleID  string
	source      model.ClientSource
	redirectURI string
	code        string
	verifier    string
	scopes      []string // requested, for providers that do not echo the grant
	name        string
	// appFacing: errors go to an app as API errors (code flow), rather than
	// becoming ?error=internal (redirect flow).
	appFacing bool
}

func (s *Service) exchangeAndSave(ctx context.Context, x exchange) (model.Connection, error) {
	p := x.provider
	client, err := s.tok.ClientFor(ctx, x.appID, p, x.source)
	if err != nil {
		return model.Connection{}, fmt.Errorf("connect: the flow's OAuth client: %w", err)
	}
	ot, err := p.Exchange(ctx, s.hc, client, x.redirectURI, x.code, x.verifier)
	if err != nil {
		return model.Connection{}, s.exchangeError(p, err, x.appFacing)
	}
	tok := providers.TokenFromOAuth2(ot)
	acct, err := p.FetchAccount(ctx, s.hc, tok)
	if err != nil {
		// Without the account id a reconnect could not find its connection,
		// so the grant is not stored half-known.
		return model.Connection{}, fmt.Errorf("connect: reading the account: %w", errors.Join(model.ErrUpstreamUnavailable, err))
	}
	if acct.Name == "" {
		acct.Name = x.name
	}
	return s.save(ctx, model.Connection{
		AppID: x.appID, ProviderID: p.ID, ScheduleID: x.scheduleID,
		AccountID: oauthAccountID(acct), AccountEmail: acct.Email, AccountName: acct.Name,
		Scopes: grantedScopes(ot, x.scopes, p.ScopeSeparator), ClientSource: x.source,
	}, tok)
}

// exchangeError turns a token-endpoint failure into what the app sees: a
// refusal by the provider (an OAuth error response) is the code's fault,
// anything else the provider's (a timeout 504, the rest 502). The
// provider's text is never passed on, nor logged.
func (s *Service) exchangeError(p *providers.Provider, err error, appFacing bool) error {
	var re *oauth2.RetrieveError
	if appFacing && errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
		return &model.Error{Code: model.CodeInvalidArgument, Field: "code",
			Message: "the provider refused the code (expired, used, or issued for another client or redirect URI)", Err: err}
	}
	// The cause is described, not wrapped: its text holds the provider's
	// response body, which may echo the code, and this error is logged.
	sentinel := model.ErrUpstreamUnavailable
	if errors.Is(err, context.DeadlineExceeded) {
		sentinel = model.ErrUpstreamTimeout
	}
	return fmt.Errorf("connect: token exchange with %s (%s): %w", p.ID, providers.DescribeError(err), sentinel)
}

// oauthAccountID keys a connection for reconnects: the provider's account
// id; else a hash of the email (never the email itself, the key is
// indexed); else "" — one connection per app, provider and schedule.
func oauthAccountID(a providers.Account) string {
	if a.ID != "" {
		return a.ID
	}
	if a.Email != "" {
		h := sha256.Sum256([]byte("email:" + strings.ToLower(a.Email)))
		return hex.EncodeToString(h[:])
	}
	return ""
}

func grantedScopes(t *oauth2.Token, requested []string, sep string) []string {
	g := providers.GrantedScopes(t, requested, sep)
	if g == nil {
		g = []string{}
	}
	return g
}

// save stores the connection through the token manager, which also keeps
// the stored refresh token when a reconnect's token response has none
// (Google sends one on first consent only).
func (s *Service) save(ctx context.Context, c model.Connection, tok model.Token) (model.Connection, error) {
	stored, _, err := s.tok.Save(ctx, c, tok)
	if err != nil {
		return model.Connection{}, fmt.Errorf("connect: saving the connection: %w", err)
	}
	return stored, nil
}

func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
