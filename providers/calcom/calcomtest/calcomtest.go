package calcomtest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom"
	"github.com/oauthbroker/broker/providers/providertest"
)

// APIVersion is the static cal-api-version header the fake's Spec asks for.
const APIVersion = "2024-08-13"

// New starts a fake Cal.com, closed when the test ends.
func New(t testing.TB, o providertest.Options) *providertest.Server {
	t.Helper()
	o.Wire = Wire{}
	return providertest.New(t, o)
}

// Wire is Cal.com's wire format.
type Wire struct{ providertest.Standard }

var (
	_ providertest.Wire   = Wire{}
	_ providertest.Router = Wire{}
)

// Name implements providertest.Wire.
func (Wire) Name() string { return calcom.Name }

// Room implements providertest.Wire.
func (Wire) Room() providers.Room { return calcom.Room{} }

// Spec implements providertest.Wire: the catalog's scopes, separator,
// refresh URL, lifetime and version header.
func (Wire) Spec(sp *providers.Spec, baseURL string) {
	sp.Name = "Fake Cal.com"
	sp.Scopes = []string{"READ_BOOKING", "READ_PROFILE"}
	sp.ScopeSeparator = ","
	sp.RefreshURL = baseURL + "/refresh"
	sp.RevokeURL = ""
	sp.TokenLifetime = "30m"
	sp.Headers = map[string]string{"Cal-Api-Version": APIVersion}
}

// Policy implements providertest.Wire.
func (Wire) Policy() providertest.Policy {
	return providertest.Policy{NoRefreshAtTokenEndpoint: true, JSONBodies: true}
}

// WriteTokenError implements providertest.Wire: {message}; anything about
// the grant or the client is a bare 401 Unauthorized.
func (Wire) WriteTokenError(w http.ResponseWriter, e providertest.TokenError) {
	if e.Code == "invalid_grant" || e.Code == "invalid_client" {
		providertest.WriteJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	msg := e.Description
	if e.Kind == providertest.FailCustom {
		msg = e.Code
	}
	providertest.WriteJSON(w, e.Status, map[string]string{"message": msg})
}

// WriteUnauthorized implements providertest.Wire: the v2 API's error.
func (Wire) WriteUnauthorized(w http.ResponseWriter, path string) {
	providertest.WriteJSON(w, http.StatusUnauthorized, map[string]any{"status": "error", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"path": path, "error": map[string]any{"code": "UnauthorizedException", "message": "Invalid Access Token."}})
}

// TokenResponse implements providertest.Wire: no token_type, expires_in or
// scope.
func (Wire) TokenResponse(b map[string]any, _ time.Duration) {
	delete(b, "token_type")
	delete(b, "expires_in")
	delete(b, "scope")
}

// UserInfo implements providertest.Wire: /v2/me, a numeric id inside data.
func (Wire) UserInfo(u providertest.User) any {
	return map[string]any{"status": "success", "data": map[string]any{
		"id": u.N, "username": u.Local, "email": u.Email, "name": u.Name,
		"timeZone": "Europe/London", "weekStart": "Monday",
	}}
}

// Routes implements providertest.Router: Cal.com's refresh endpoint.
func (w Wire) Routes(s *providertest.Server, mux *http.ServeMux) {
	mux.HandleFunc("/refresh", func(rw http.ResponseWriter, r *http.Request) { w.refresh(s, rw, r) })
}

// refresh is /api/auth/oauth/refreshToken: the refresh token as a Bearer
// credential, client id and secret in the body (JSON or form), the answer
// {access_token} alone.
func (Wire) refresh(s *providertest.Server, w http.ResponseWriter, r *http.Request) {
	s.CountTokenCall()
	if r.Method != http.MethodPost {
		providertest.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Invalid method"})
		return
	}
	form, err := s.ReadForm(r)
	if err != nil || form.Get("grant_type") != "refresh_token" {
		providertest.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "grant type invalid"})
		return
	}
	if !s.ClientInBody(form) {
		providertest.WriteJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
		return
	}
	rt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		rt = form.Get("refresh_token") // Cal.com's older handler read the body
	}
	s.RefreshGrant(w, rt)
}
