package googletest

import (
	"net/http"
	"testing"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/google"
	"github.com/oauthbroker/broker/providers/providertest"
)

// New starts a fake Google, closed when the test ends.
func New(t testing.TB, o providertest.Options) *providertest.Server {
	t.Helper()
	o.Wire = Wire{}
	return providertest.New(t, o)
}

// Wire is Google's wire format.
type Wire struct{ providertest.Standard }

var _ providertest.Wire = Wire{}

// Name implements providertest.Wire.
func (Wire) Name() string { return google.Name }

// Room implements providertest.Wire.
func (Wire) Room() providers.Room { return google.Room{} }

// Spec implements providertest.Wire: the catalog's scopes and authorize
// parameters.
func (Wire) Spec(sp *providers.Spec, _ string) {
	sp.Name = "Fake Google"
	sp.Scopes = []string{"openid", "email", "profile", "https://www.googleapis.com/auth/calendar"}
	sp.AuthParams = map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}
}

// Policy implements providertest.Wire.
func (Wire) Policy() providertest.Policy {
	return providertest.Policy{RefreshTokenOnFirstConsent: true}
}

// WriteTokenError implements providertest.Wire: RFC 6749, with Google's own
// code for a redirect URI mismatch.
func (w Wire) WriteTokenError(rw http.ResponseWriter, e providertest.TokenError) {
	if e.Kind == providertest.FailRedirect {
		e.Code = "redirect_uri_mismatch"
	}
	w.Standard.WriteTokenError(rw, e)
}

// WriteUnauthorized implements providertest.Wire.
func (Wire) WriteUnauthorized(w http.ResponseWriter, _ string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
	providertest.WriteJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
}

// WriteRevoked implements providertest.Wire: a token Google does not know
// or already revoked is 400 invalid_token.
func (w Wire) WriteRevoked(rw http.ResponseWriter, known bool) {
	if !known {
		providertest.WriteJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_token", "error_description": "Token expired or revoked"})
		return
	}
	w.Standard.WriteRevoked(rw, known)
}
