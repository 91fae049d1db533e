package microsofttest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/microsoft"
	"github.com/oauthbroker/broker/providers/providertest"
)

// New starts a fake Microsoft, closed when the test ends.
func New(t testing.TB, o providertest.Options) *providertest.Server {
	t.Helper()
	o.Wire = Wire{}
	return providertest.New(t, o)
}

// Wire is Microsoft's wire format.
type Wire struct{ providertest.Standard }

var _ providertest.Wire = Wire{}

// Name implements providertest.Wire.
func (Wire) Name() string { return microsoft.Name }

// Room implements providertest.Wire.
func (Wire) Room() providers.Room { return microsoft.Room{} }

// Spec implements providertest.Wire.
func (Wire) Spec(sp *providers.Spec, _ string) {
	yes := true
	sp.Name = "Fake Microsoft"
	sp.Scopes = []string{"offline_access", "User.Read", "Calendars.ReadWrite"}
	sp.RevokeURL = "" // Microsoft has no revocation endpoint
	sp.KeepAlive = &yes
}

// aadCodes is the AADSTS code Microsoft sends for each failure.
var aadCodes = map[providertest.FailKind]int{
	providertest.FailGrant: 70008, providertest.FailCode: 70000, providertest.FailRedeemed: 54005,
	providertest.FailRedirect: 50148, providertest.FailPKCE: 501481, providertest.FailClient: 7000215,
	providertest.FailRequest: 900144,
}

// WriteTokenError implements providertest.Wire: the AADSTS code leads the
// description and is repeated in error_codes.
func (Wire) WriteTokenError(w http.ResponseWriter, e providertest.TokenError) {
	aad := aadCodes[e.Kind]
	if e.Kind == providertest.FailCustom {
		switch e.Code {
		case "invalid_grant":
			aad = 70008
		case "invalid_client":
			aad = 7000215
		}
	}
	body := map[string]any{"error": e.Code, "error_description": e.Description,
		"timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": "00000000-trace", "correlation_id": "00000000-corr"}
	if aad != 0 {
		body["error_description"] = fmt.Sprintf("AADSTS%d: %s Trace ID: 00000000-trace", aad, e.Description)
		body["error_codes"] = []int{aad}
	}
	providertest.WriteJSON(w, e.Status, body)
}

// WriteUnauthorized implements providertest.Wire: Graph's error object.
func (Wire) WriteUnauthorized(w http.ResponseWriter, _ string) {
	providertest.WriteJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}})
}

// TokenResponse implements providertest.Wire: ext_expires_in beside
// expires_in.
func (Wire) TokenResponse(b map[string]any, lifetime time.Duration) {
	if lifetime > 0 {
		b["ext_expires_in"] = int(lifetime / time.Second)
	}
}

// UserInfo implements providertest.Wire: Graph /me. mail is null for users
// whose local part starts with "upn.", as for some personal accounts.
func (Wire) UserInfo(u providertest.User) any {
	var mail any = u.Email
	if strings.HasPrefix(u.Local, "upn.") {
		mail = nil
	}
	return map[string]any{
		"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
		"id":             u.ID, "displayName": u.Name, "givenName": u.First, "surname": u.Last,
		"mail": mail, "userPrincipalName": u.Email,
	}
}

// AccountID implements providertest.Wire: a GUID.
func (Wire) AccountID(n int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", n) }
