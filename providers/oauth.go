package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/broker/model"
)

// Client is the OAuth client in use for a flow or a connection: the
// broker-wide one from config, or the app's own.
type Client struct{ ID, Secret string }

// AuthOptions are the per-flow parts of an authorization request.
type AuthOptions struct {
	Scopes    []string // empty: the provider's default scopes
	Verifier  string   // PKCE verifier (the S256 challenge is sent when the provider uses PKCE)
	LoginHint string
}

// ErrNoRefreshToken is returned by Refresh when there is nothing to refresh
// with; it classifies as ClassReauth.
var ErrNoRefreshToken = errors.New("providers: no refresh token")

// MaxResponseBytes bounds what is read from a provider's token, revoke,
// user-info or test endpoint.
const MaxResponseBytes = 1 << 20

// reservedAuthParams are the authorize parameters the broker sets itself:
// config validation refuses them in authParams, and AuthCodeURL never lets
// authParams replace them. login_hint is per flow (AuthOptions.LoginHint).
var reservedAuthParams = []string{
	"client_id", "code_challenge", "code_challenge_method", "login_hint",
	"redirect_uri", "response_type", "scope", "state",
}

// config builds the x/oauth2 view of the provider. Scopes stay out of it:
// AuthCodeURL sets `scope` itself so that any separator works.
func (p *Provider) config(c Client, redirectURL, tokenURL string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if p.AuthStyle == AuthStyleBasic {
		style = oauth2.AuthStyleInHeader // never AutoDetect: a failed probe would cost a second call
	}
	return &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		RedirectURL:  redirectURL,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: tokenURL, AuthStyle: style},
	}
}

func (p *Provider) separator() string {
	if p.ScopeSeparator == "" {
		return DefaultScopeSeparator
	}
	return p.ScopeSeparator
}

// AuthCodeURL is the provider's authorization URL for one flow: scopes
// joined with the provider's separator, its extra parameters, the PKCE S256
// challenge and the login hint.
func (p *Provider) AuthCodeURL(c Client, redirectURL, state string, o AuthOptions) string {
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = p.Scopes
	}
	opts := make([]oauth2.AuthCodeOption, 0, len(p.AuthParams)+4)
	for _, k := range slices.Sorted(maps.Keys(p.AuthParams)) {
		if !slices.Contains(reservedAuthParams, k) {
			opts = append(opts, oauth2.SetAuthURLParam(k, p.AuthParams[k]))
		}
	}
	if len(scopes) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("scope", strings.Join(scopes, p.separator())))
	}
	if p.UsesPKCE() && o.Verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(o.Verifier))
	}
	if o.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", o.LoginHint))
	}
	return p.config(c, redirectURL, p.TokenURL).AuthCodeURL(state, opts...)
}

// Exchange trades an authorization code for tokens. The verifier is sent
// when the provider uses PKCE. The token is normalized: Bearer when the
// provider names no type, an expiry from TokenLifetimeD when it sends no
// expires_in.
func (p *Provider) Exchange(ctx context.Context, hc *http.Client, c Client, redirectURL, code, verifier string) (*oauth2.Token, error) {
	if p.Kind != KindOAuth2 {
		return nil, fmt.Errorf("providers: exchange: %s is not an oauth2 provider", p.ID)
	}
	var opts []oauth2.AuthCodeOption
	if verifier != "" && p.UsesPKCE() {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	tok, err := p.config(c, redirectURL, p.TokenURL).Exchange(withClient(ctx, hc), code, opts...)
	if err != nil {
		return nil, tokenErr("exchange", err)
	}
	return p.normalize(tok, ""), nil
}

// Refresh gets a new access token, at RefreshURL when the provider has one.
// A response without a refresh token keeps the old one; a rotated one
// replaces it and must be stored before the access token is used.
func (p *Provider) Refresh(ctx context.Context, hc *http.Client, c Client, refreshToken string) (*oauth2.Token, error) {
	if p.Kind != KindOAuth2 {
		return nil, fmt.Errorf("providers: refresh: %s is not an oauth2 provider", p.ID)
	}
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	if r, ok := p.Room.(Refresher); ok {
		tok, err := r.Refresh(withClient(ctx, hc), httpClient(hc), p, c, refreshToken)
		if err != nil {
			return nil, tokenErr("refresh", err)
		}
		return p.normalize(tok, refreshToken), nil
	}
	tokenURL := p.TokenURL
	if p.RefreshURL != "" {
		tokenURL = p.RefreshURL
	}
	src := p.config(c, "", tokenURL).TokenSource(withClient(ctx, hc), &oauth2.Token{RefreshToken: refreshToken})
	tok, err := src.Token()
	if err != nil {
		return nil, tokenErr("refresh", err)
	}
	return p.normalize(tok, refreshToken), nil
}

// normalize fills what some providers leave out of a token response.
func (p *Provider) normalize(tok *oauth2.Token, oldRefresh string) *oauth2.Token {
	if tok.TokenType == "" || strings.EqualFold(tok.TokenType, "bearer") {
		tok.TokenType = "Bearer" // Cal.com sends none, Zoom "bearer"
	}
	if tok.Expiry.IsZero() && p.TokenLifetimeD > 0 {
		tok.Expiry = time.Now().Add(p.TokenLifetimeD)
		tok.ExpiresIn = int64(p.TokenLifetimeD / time.Second)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = oldRefresh
	}
	return tok
}

// Revoke revokes the connection's grant at the provider (RFC 7009): the
// refresh token when there is one, else the access token. It is a no-op for
// a provider without a revoke URL. A token the provider already considers
// invalid counts as revoked.
func (p *Provider) Revoke(ctx context.Context, hc *http.Client, c Client, tok model.Token) error {
	if p.RevokeURL == "" || p.Kind != KindOAuth2 {
		return nil
	}
	token, hint := tok.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = tok.AccessToken, "access_token"
	}
	if token == "" {
		return nil
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if p.AuthStyle != AuthStyleBasic {
		if c.ID != "" {
			form.Set("client_id", c.ID)
		}
		if c.Secret != "" {
			form.Set("client_secret", c.Secret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("providers: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if p.AuthStyle == AuthStyleBasic {
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	resp, err := httpClient(hc).Do(req)
	if err != nil {
		return fmt.Errorf("providers: revoke: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	re := &oauth2.RetrieveError{Response: resp, Body: body}
	re.ErrorCode, re.ErrorDescription = ErrorFields(body)
	if re.ErrorCode == "invalid_token" { // already dead (Google answers 400 so)
		return nil
	}
	return tokenErr("revoke", re)
}

// TokenFromOAuth2 converts a token response into the stored credential.
func TokenFromOAuth2(t *oauth2.Token) model.Token {
	if t == nil {
		return model.Token{}
	}
	return model.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
}

// GrantedScopes is what the provider says it granted (the response's
// `scope`, split on the separator or white space), or the requested scopes
// when it says nothing (RFC 6749 §5.1).
func GrantedScopes(t *oauth2.Token, requested []string, sep string) []string {
	var raw string
	if t != nil {
		raw, _ = t.Extra("scope").(string)
	}
	if strings.TrimSpace(raw) == "" {
		return slices.Clone(requested)
	}
	fields := strings.FieldsFunc(raw, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || (sep != "" && strings.ContainsRune(sep, r))
	})
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// defaultHTTPClient is used when a caller passes no client, so that no call
// ever goes through http.DefaultClient, which follows redirects.
var defaultHTTPClient = sync.OnceValue(func() *http.Client { return NewHTTPClient(0) })

func httpClient(hc *http.Client) *http.Client {
	if hc == nil {
		return defaultHTTPClient()
	}
	return hc
}

func withClient(ctx context.Context, hc *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, httpClient(hc))
}
