package calcom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/providers"
)

// Name is the room's name, the `quirks:` value of the calcom catalog entry.
const Name = "calcom"

// Room is Cal.com's behaviour. The zero value is ready to use.
type Room struct{}

var (
	_ providers.Room                 = Room{}
	_ providers.TokenErrorClassifier = Room{}
	_ providers.AccountReader        = Room{}
	_ providers.Refresher            = Room{}
)

// Name implements providers.Room.
func (Room) Name() string { return Name }

// ClassifyTokenError: Cal.com answers a dead refresh token with 401
// {"message":"Unauthorized"} and no OAuth error code.
func (Room) ClassifyTokenError(re *oauth2.RetrieveError) (providers.ErrorClass, bool) {
	if re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
		return providers.ClassReauth, true
	}
	return 0, false
}

// ReadAccount reads /v2/me: {data:{id, email, name or username}}, the id a
// number that keeps every digit.
func (Room) ReadAccount(m map[string]any) providers.Account {
	if data, ok := m["data"].(map[string]any); ok {
		m = data
	}
	return providers.Account{ID: providers.Field(m, "id"), Email: providers.Field(m, "email"), Name: providers.Field(m, "name", "username")}
}

// Refresh speaks Cal.com's refresh endpoint (refreshUrl, else tokenUrl):
// the refresh token as a Bearer credential, grant_type, client_id and
// client_secret in a JSON body, and an answer of {access_token} alone;
// errors are {message} with 400 or 401. The refresh token is also in the
// body, where Cal.com's older handler read it.
func (Room) Refresh(ctx context.Context, hc *http.Client, p *providers.Provider, c providers.Client, refreshToken string) (*oauth2.Token, error) {
	endpoint := p.RefreshURL
	if endpoint == "" {
		endpoint = p.TokenURL
	}
	body, _ := json.Marshal(map[string]string{
		"grant_type": "refresh_token", "client_id": c.ID, "client_secret": c.Secret, "refresh_token": refreshToken,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+refreshToken)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, providers.MaxResponseBytes))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := &oauth2.RetrieveError{Response: resp, Body: raw}
		re.ErrorCode, re.ErrorDescription = providers.ErrorFields(raw)
		return nil, re
	}
	var tj struct {
		AccessToken  string      `json:"access_token"`
		RefreshToken string      `json:"refresh_token"`
		TokenType    string      `json:"token_type"`
		ExpiresIn    json.Number `json:"expires_in"`
	}
	var extra map[string]any
	if json.Unmarshal(raw, &tj) != nil || json.Unmarshal(raw, &extra) != nil || tj.AccessToken == "" {
		return nil, errors.New("calcom: refresh: response has no access_token")
	}
	tok := &oauth2.Token{AccessToken: tj.AccessToken, RefreshToken: tj.RefreshToken, TokenType: tj.TokenType}
	if n, err := tj.ExpiresIn.Int64(); err == nil && n > 0 {
		tok.Expiry, tok.ExpiresIn = time.Now().Add(time.Duration(n)*time.Second), n
	}
	return tok.WithExtra(extra), nil
}
