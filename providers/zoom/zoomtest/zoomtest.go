package zoomtest

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom"
)

// New starts a fake Zoom, closed when the test ends.
func New(t testing.TB, o providertest.Options) *providertest.Server {
	t.Helper()
	o.Wire = Wire{}
	return providertest.New(t, o)
}

// Wire is Zoom's wire format.
type Wire struct{ providertest.Standard }

var _ providertest.Wire = Wire{}

// Name implements providertest.Wire.
func (Wire) Name() string { return zoom.Name }

// Room implements providertest.Wire.
func (Wire) Room() providers.Room { return zoom.Room{} }

// Spec implements providertest.Wire.
func (Wire) Spec(sp *providers.Spec, _ string) {
	sp.Name = "Fake Zoom"
	sp.Scopes = []string{"meeting:read", "meeting:write", "user:read"}
	sp.AuthStyle = providers.AuthStyleBasic
}

// Policy implements providertest.Wire.
func (Wire) Policy() providertest.Policy { return providertest.Policy{ClientAuthBasic: true} }

// reasons is Zoom's text for each failure.
var reasons = map[providertest.FailKind]string{
	providertest.FailGrant: "Invalid Token!", providertest.FailCode: "Invalid authorization code",
	providertest.FailRedeemed: "Invalid authorization code", providertest.FailRedirect: "Redirect URI mismatch.",
	providertest.FailPKCE: "Invalid code verifier", providertest.FailClient: "Invalid client_id or client_secret",
}

// WriteTokenError implements providertest.Wire: {"reason","error"}, with
// invalid_request where RFC 6749 says invalid_grant.
func (Wire) WriteTokenError(w http.ResponseWriter, e providertest.TokenError) {
	reason, ok := reasons[e.Kind]
	switch {
	case e.Kind == providertest.FailCustom && e.Code == "invalid_grant":
		reason = "Invalid Token!"
	case !ok:
		reason = e.Description
		if e.Kind == providertest.FailCustom {
			reason = e.Code
		}
	}
	code := e.Code
	if code == "invalid_grant" {
		code = "invalid_request"
	}
	providertest.WriteJSON(w, e.Status, map[string]string{"reason": reason, "error": code})
}

// WriteUnauthorized implements providertest.Wire.
func (Wire) WriteUnauthorized(w http.ResponseWriter, _ string) {
	providertest.WriteJSON(w, http.StatusUnauthorized, map[string]any{"code": 124, "message": "Invalid access token."})
}

// TokenResponse implements providertest.Wire: Zoom writes "bearer" and
// names its API host.
func (Wire) TokenResponse(b map[string]any, _ time.Duration) {
	b["token_type"] = "bearer"
	b["api_url"] = "https://api.zoom.us"
}

// UserInfo implements providertest.Wire: /v2/users/me.
func (Wire) UserInfo(u providertest.User) any {
	return map[string]any{
		"id": u.ID, "first_name": u.First, "last_name": u.Last, "display_name": u.Name,
		"email": u.Email, "type": 1, "account_id": "acct-" + u.ID,
	}
}

// AccountID implements providertest.Wire.
func (Wire) AccountID(n int) string { return "zoom-" + strconv.Itoa(n) }

// WriteRevoked implements providertest.Wire.
func (Wire) WriteRevoked(w http.ResponseWriter, _ bool) {
	providertest.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
}
