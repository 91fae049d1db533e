package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/oauthbroker/broker/providers"
)

// Wire is how one provider speaks, as the fake plays it. The fake itself is
// plain RFC 6749 (Standard); a room's test package (googletest,
// microsofttest, …) passes its own Wire, usually Standard embedded with the
// methods that differ overridden, so a provider's fake lives beside its
// room and this package switches on no provider.
type Wire interface {
	// Name is the room's name ("" for plain RFC 6749); the fake's provider
	// id is "fake-<name>".
	Name() string
	// Room is attached to the fake's Provider (nil: plain RFC 6749).
	Room() providers.Room
	// Spec shapes the fake's spec like the catalog entry (scopes and
	// separator, auth style, authorize parameters, lifetime, headers).
	// baseURL is the fake's own, for extra endpoints.
	Spec(sp *providers.Spec, baseURL string)
	// Policy is what the fake's generic endpoints enforce for it.
	Policy() Policy
	// WriteTokenError answers a failed token, refresh or revoke request.
	WriteTokenError(w http.ResponseWriter, e TokenError)
	// WriteUnauthorized answers an API or user-info call whose token is
	// missing, unknown or stale.
	WriteUnauthorized(w http.ResponseWriter, path string)
	// TokenResponse shapes a successful token response: b holds
	// access_token, refresh_token (when one is issued), token_type, scope
	// and expires_in (when lifetime > 0).
	TokenResponse(b map[string]any, lifetime time.Duration)
	// UserInfo is the user-info body for u.
	UserInfo(u User) any
	// AccountID formats a user number as the provider's account ids look.
	AccountID(n int) string
	// WriteRevoked answers a revoke; known says whether the token was live.
	WriteRevoked(w http.ResponseWriter, known bool)
}

// Router is a Wire with endpoints of its own (Cal.com's /refresh). Routes
// is called once at start with the fake's mux.
type Router interface {
	Routes(s *Server, mux *http.ServeMux)
}

// Policy is what the fake's generic endpoints enforce.
type Policy struct {
	// ClientAuthBasic: the token and revoke endpoints take HTTP Basic
	// client authentication only.
	ClientAuthBasic bool
	// RefreshTokenOnFirstConsent: a code exchange returns a refresh token
	// only the first time a user consents, or when prompt=consent forces
	// one.
	RefreshTokenOnFirstConsent bool
	// NoRefreshAtTokenEndpoint: /token refuses the refresh_token grant (the
	// provider refreshes at an endpoint of its own).
	NoRefreshAtTokenEndpoint bool
	// JSONBodies: token requests may be JSON as well as form-encoded.
	JSONBodies bool
}

// FailKind is why a token request failed; each Wire writes it in its own
// format.
type FailKind int

// Why token requests fail.
const (
	FailGrant    FailKind = iota // refresh token unknown, used or revoked
	FailCode                     // authorization code unknown
	FailRedeemed                 // authorization code used twice
	FailRedirect                 // redirect_uri differs from the authorize request
	FailPKCE                     // code_verifier missing or wrong
	FailClient                   // client authentication failed
	FailRequest                  // malformed request; Detail says what
	FailCustom                   // FailNextRefresh(code); Code is that code
)

// TokenError is one failed token request in RFC 6749 terms: the status,
// error code and description Standard writes. A Wire reads Kind to write
// its own words for it.
type TokenError struct {
	Kind        FailKind
	Status      int
	Code        string
	Description string
}

// tokenError is the RFC 6749 reading of a failure.
func tokenError(k FailKind, detail string) TokenError {
	e := TokenError{Kind: k, Status: http.StatusBadRequest, Code: "invalid_grant"}
	switch k {
	case FailGrant:
		e.Description = "Token has been expired or revoked."
	case FailCode:
		e.Description = "Malformed auth code."
	case FailRedeemed:
		e.Description = "The code has already been redeemed."
	case FailRedirect:
		e.Description = "The redirect URI does not match the one in the authorization request."
	case FailPKCE:
		e.Description = "The code_verifier does not match the code_challenge."
	case FailClient:
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "invalid_client", "Invalid client secret provided."
	case FailRequest:
		e.Code, e.Description = "invalid_request", detail
	case FailCustom:
		e.Code, e.Description = detail, "The provider refused the request."
		if detail == "invalid_client" {
			e.Status = http.StatusUnauthorized
		}
	}
	return e
}

// User is one user of the fake, as a Wire renders it.
type User struct {
	Email       string // the login, e.g. alice@example.com
	Local       string // the part before @
	First, Last string
	Name        string // First Last
	N           int    // a stable number per user
	ID          string // AccountID(N)
}

// Standard is plain RFC 6749 with OpenID Connect userinfo. Wires embed it.
type Standard struct{}

var _ Wire = Standard{}

// Name implements Wire.
func (Standard) Name() string { return "" }

// Room implements Wire.
func (Standard) Room() providers.Room { return nil }

// Spec implements Wire: the fake's defaults stand.
func (Standard) Spec(*providers.Spec, string) {}

// Policy implements Wire: client authentication in the body, a refresh
// token on every exchange.
func (Standard) Policy() Policy { return Policy{} }

// WriteTokenError implements Wire: {error, error_description}.
func (Standard) WriteTokenError(w http.ResponseWriter, e TokenError) {
	WriteJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// WriteUnauthorized implements Wire: RFC 6750's invalid_token.
func (Standard) WriteUnauthorized(w http.ResponseWriter, _ string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
}

// TokenResponse implements Wire: b as it is.
func (Standard) TokenResponse(map[string]any, time.Duration) {}

// UserInfo implements Wire: OpenID Connect userinfo.
func (Standard) UserInfo(u User) any {
	return map[string]any{
		"sub": u.ID, "email": u.Email, "email_verified": true, "name": u.Name,
		"given_name": u.First, "family_name": u.Last,
	}
}

// AccountID implements Wire: the number.
func (Standard) AccountID(n int) string { return strconv.Itoa(n) }

// WriteRevoked implements Wire: 200 {} (RFC 7009 §2.2, also for an unknown
// token).
func (Standard) WriteRevoked(w http.ResponseWriter, _ bool) {
	WriteJSON(w, http.StatusOK, map[string]string{})
}

// writeBareStatus answers with a status and an HTML body, as a load balancer
// in front of the provider does.
func writeBareStatus(w http.ResponseWriter, status int) {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
}

// WriteJSON answers status with v as JSON, uncached, as providers do.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
