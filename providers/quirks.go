package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Quirk names (Spec.Quirks).
const (
	QuirkGoogle    = "google"
	QuirkMicrosoft = "microsoft"
	QuirkZoom      = "zoom"
	QuirkCalCom    = "calcom"
)

// ErrorClass is what a failed token request means for the connection.
type ErrorClass int

// Error classes.
const (
	ClassOther     ErrorClass = iota // a failure that neither a retry nor the user is known to fix
	ClassReauth                      // the grant is dead (invalid_grant or the provider's equivalent): NEEDS_REAUTH
	ClassTransient                   // network error, 5xx or 429: retry later, status unchanged
)

func (c ErrorClass) String() string {
	switch c {
	case ClassReauth:
		return "reauth"
	case ClassTransient:
		return "transient"
	}
	return "other"
}

// Callback outcomes, the `error` values an app receives on its redirect URL.
const (
	OutcomeReject      = "reject"
	OutcomeUnsupported = "unsupported"
	OutcomeInternal    = "internal"
)

// Microsoft identity platform codes (AADSTS<n>) meaning the grant is dead:
// invalid grant, expired by inactivity, refresh token expired, revoked
// (password change or admin), code already redeemed.
var aadReauth = map[int]bool{70000: true, 70008: true, 700082: true, 50173: true, 54005: true, 700084: true}

// Microsoft codes on the authorization response meaning the provider will
// not serve this account for this app: account from another tenant, app
// not multi-tenant, app not in the user's directory, personal accounts not
// allowed, user not in the directory.
var aadUnsupported = map[int]bool{50020: true, 50194: true, 700016: true, 90072: true, 50034: true, 500200: true}

// ClassifyTokenError says what a token-endpoint failure means. It reads the
// structured fields of *oauth2.RetrieveError (error code, HTTP status, the
// provider's JSON error body), never the error's text.
func (p *Provider) ClassifyTokenError(err error) ErrorClass {
	if err == nil {
		return ClassOther
	}
	if errors.Is(err, ErrNoRefreshToken) {
		return ClassReauth
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode == "invalid_grant" {
			return ClassReauth
		}
		switch p.Quirks {
		case QuirkZoom: // {"reason":"Invalid Token!","error":"invalid_request"}
			if zoomReason(re.Body) == "Invalid Token!" {
				return ClassReauth
			}
		case QuirkCalCom: // 401 {"message":"Unauthorized"} for a dead refresh token
			if status == http.StatusUnauthorized {
				return ClassReauth
			}
		case QuirkMicrosoft:
			if aadReauth[aadCode(re.Body, re.ErrorDescription)] {
				return ClassReauth
			}
		}
		switch {
		case status >= 500, status == http.StatusTooManyRequests,
			re.ErrorCode == "temporarily_unavailable", re.ErrorCode == "server_error":
			return ClassTransient
		}
		return ClassOther
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return ClassTransient
	}
	return ClassOther
}

// CallbackOutcome maps the error of an authorization response to what the
// app is told. Provider text only steers the choice; it is never shown.
func (p *Provider) CallbackOutcome(errCode, errDescription string) string {
	switch errCode {
	case "", "access_denied":
		return OutcomeReject // "" is a return with neither code nor error (Cal.com's "Go back")
	case "invalid_scope", "unsupported_response_type", "unauthorized_client":
		return OutcomeUnsupported
	}
	if p.Quirks == QuirkMicrosoft {
		n := aadCode(nil, errDescription)
		switch {
		case aadUnsupported[n]:
			return OutcomeUnsupported
		case n == 65004: // the user declined consent
			return OutcomeReject
		}
	}
	return OutcomeInternal
}

// aadCode is the AADSTS code of a Microsoft error: the first of the body's
// error_codes, else the number after "AADSTS" at the start of the
// description. 0 when there is none.
func aadCode(body []byte, description string) int {
	var b struct {
		ErrorCodes []int `json:"error_codes"`
	}
	if len(body) > 0 && json.Unmarshal(body, &b) == nil && len(b.ErrorCodes) > 0 {
		return b.ErrorCodes[0]
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(description), "AADSTS")
	if !ok {
		return 0
	}
	end := 0
	for end < len(rest) && end < 9 && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

// zoomReason is the `reason` field of a Zoom error body.
func zoomReason(body []byte) string {
	var b struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Reason
}

// oauthErrorFields reads RFC 6749 error and error_description from a JSON
// body.
func oauthErrorFields(body []byte) (code, desc string) {
	var b struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Error, b.ErrorDescription
}

// calcomRefresh speaks Cal.com's refresh endpoint
// (/api/auth/oauth/refreshToken): the refresh token as a Bearer credential,
// grant_type, client_id and client_secret in a JSON body, and an answer of
// {access_token} alone; errors are {message} with 400 or 401. The refresh
// token is also in the body, where Cal.com's older handler read it.
func (p *Provider) calcomRefresh(ctx context.Context, hc *http.Client, c Client, refreshToken string) (*oauth2.Token, error) {
	body, _ := json.Marshal(map[string]string{
		"grant_type": "refresh_token", "client_id": c.ID, "client_secret": c.Secret, "refresh_token": refreshToken,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RefreshURL, bytes.NewReader(body))
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
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := &oauth2.RetrieveError{Response: resp, Body: raw}
		re.ErrorCode, re.ErrorDescription = oauthErrorFields(raw)
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
		return nil, errors.New("providers: refresh: response has no access_token")
	}
	tok := &oauth2.Token{AccessToken: tj.AccessToken, RefreshToken: tj.RefreshToken, TokenType: tj.TokenType}
	if n, err := tj.ExpiresIn.Int64(); err == nil && n > 0 {
		tok.Expiry, tok.ExpiresIn = time.Now().Add(time.Duration(n)*time.Second), n
	}
	return tok.WithExtra(extra), nil
}

// tokenError is a failed token, refresh or revoke call. Its text names the
// operation, the HTTP status and the OAuth error code only: the provider's
// body and description stay out of logs. Unwrap gives the
// *oauth2.RetrieveError (or network error) for errors.As.
type tokenError struct {
	op  string
	err error
}

func tokenErr(op string, err error) error {
	var te *tokenError
	if errors.As(err, &te) {
		return err
	}
	return &tokenError{op: op, err: err}
}

func (e *tokenError) Error() string {
	var re *oauth2.RetrieveError
	if !errors.As(e.err, &re) {
		return fmt.Sprintf("providers: %s: %v", e.op, e.err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	if code := safeCode(re.ErrorCode); code != "" {
		return fmt.Sprintf("providers: %s: HTTP %d %s", e.op, status, code)
	}
	return fmt.Sprintf("providers: %s: HTTP %d", e.op, status)
}

func (e *tokenError) Unwrap() error { return e.err }

// safeCode keeps an OAuth error code only when it looks like one
// ([a-z0-9_], short), so provider text cannot ride into a log line.
func safeCode(s string) string {
	if len(s) > 40 {
		return ""
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return ""
		}
	}
	return s
}

// DescribeError says what went wrong at a provider endpoint in words safe
// for a log line or an error message: the HTTP status and the OAuth error
// code, never the response body nor the error's text (which may echo a
// code or a credential).
func DescribeError(err error) string {
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &re):
		s := "token endpoint"
		if re.Response != nil {
			s += " status " + strconv.Itoa(re.Response.StatusCode)
		}
		if plainCode(re.ErrorCode) {
			s += " error " + re.ErrorCode
		}
		return s
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "network error"
	}
	return "error"
}

// plainCode reports whether s looks like an OAuth error code ([a-z0-9_],
// short), so provider text cannot ride into a log line.
func plainCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
