package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/oauthbroker/broker/broker/model"
)

// Account is who a connection belongs to at the provider.
type Account struct{ ID, Email, Name string }

// ErrRejected means the provider refused the credentials (401 or 403).
var ErrRejected = errors.New("providers: credentials rejected")

// FetchAccount reads the account behind a token from the provider's
// user-info URL: OpenID Connect userinfo (sub, email, name), or the shape
// its room reads (AccountReader). A provider without a user-info URL gives
// the zero Account.
func (p *Provider) FetchAccount(ctx context.Context, hc *http.Client, tok model.Token) (Account, error) {
	if p.UserInfoURL == "" {
		return Account{}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserInfoURL, nil)
	if err != nil {
		return Account{}, fmt.Errorf("providers: user info: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	p.Inject(req, tok)
	resp, err := sendInjected(hc, req)
	if err != nil {
		return Account{}, fmt.Errorf("providers: user info: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return Account{}, fmt.Errorf("providers: user info: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Account{}, fmt.Errorf("providers: user info: HTTP %d: %w", resp.StatusCode, ErrRejected)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return Account{}, fmt.Errorf("providers: user info: HTTP %d", resp.StatusCode)
	}
	acc, err := p.parseAccount(body)
	if err != nil {
		return Account{}, fmt.Errorf("providers: user info: %w", err)
	}
	return acc, nil
}

// parseAccount maps a user-info body to an Account: OpenID Connect userinfo,
// or the room's shape.
func (p *Provider) parseAccount(body []byte) (Account, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // numeric ids (Cal.com) keep every digit
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return Account{}, errors.New("response is not a JSON object")
	}
	var a Account
	if ar, ok := p.Room.(AccountReader); ok {
		a = ar.ReadAccount(m)
	} else { // OpenID Connect userinfo, with common fallbacks
		a = Account{ID: Field(m, "sub", "id"), Email: Field(m, "email"), Name: Field(m, "name", "preferred_username")}
	}
	if a.ID == "" {
		return Account{}, errors.New("response names no account id")
	}
	return a, nil
}

// Field returns the first of keys that holds a non-empty string or number:
// the helper rooms read user-info objects with.
func Field(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case json.Number:
			return v.String()
		}
	}
	return ""
}

// Test tries the credentials at the provider's test URL (TestMethod, with
// Depth: 0 for PROPFIND): nil when accepted (2xx), an error wrapping
// ErrRejected on 401 or 403, any other error when it could not tell. A
// provider without a test URL accepts.
func (p *Provider) Test(ctx context.Context, hc *http.Client, tok model.Token) error {
	if p.TestURL == "" {
		return nil
	}
	method := p.TestMethod
	if method == "" {
		method = DefaultTestMethod
	}
	req, err := http.NewRequestWithContext(ctx, method, p.TestURL, nil)
	if err != nil {
		return fmt.Errorf("providers: test: %w", err)
	}
	if method == "PROPFIND" {
		req.Header.Set("Depth", "0") // the collection itself, not its members
	}
	p.Inject(req, tok)
	resp, err := sendInjected(hc, req)
	if err != nil {
		return fmt.Errorf("providers: test: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("providers: test: HTTP %d: %w", resp.StatusCode, ErrRejected)
	}
	return fmt.Errorf("providers: test: HTTP %d", resp.StatusCode)
}
