package api_test

import (
	"net/http"
	"testing"
)

// Each fake speaks its provider's wire format: Google's refresh token only
// on first consent, Microsoft's AADSTS errors and rotating refresh tokens,
// Zoom's HTTP Basic client authentication, Cal.com's token response without
// expires_in or token_type and its {message} errors.
func TestConnectProviderQuirks(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	for _, tc := range []struct {
		provider, user, wantName string
	}{
		{pGoogle, "ann@example.com", "Ann Example"},
		{pMicrosoft, "bob@example.com", "Bob Example"},
		{pZoom, "cid@example.com", "Cid Example"},
		{pCalCom, "dee@example.com", "Dee Example"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			f := e.fakes[tc.provider]
			id := connected(t, e.connect(app, map[string]any{"providerId": tc.provider, "loginHint": tc.user}))
			c := e.call(app, "GET", "/v1/connections/"+id, nil).obj(t)
			acct := c["account"].(map[string]any)
			if acct["email"] != tc.user || acct["name"] != tc.wantName || c["status"] != "CONNECTED" {
				t.Errorf("connection %v", c)
			}
			if c["lastRefreshedAt"] == nil {
				t.Error("lastRefreshedAt not set")
			}
			// The provider stops honouring the access token: test refreshes
			// once (with the client and refresh token the flow stored) and
			// succeeds.
			f.ExpireAccessTokens()
			refreshes := f.RefreshCalls()
			r := e.call(app, "POST", "/v1/connections/"+id+"/test", nil)
			if r.status != http.StatusOK || r.obj(t)["ok"] != true {
				t.Fatalf("test after expiry: %d %s", r.status, r.body)
			}
			if f.RefreshCalls() != refreshes+1 {
				t.Errorf("refresh calls %d → %d, want one refresh", refreshes, f.RefreshCalls())
			}
		})
	}

	t.Run("google reconnect without a new refresh token keeps id and refresh token", func(t *testing.T) {
		f := e.fakes[pGoogle]
		first := connected(t, e.connect(app, map[string]any{"providerId": pGoogle, "loginHint": "eve@example.com"}))
		again := connected(t, e.connect(app, map[string]any{"providerId": pGoogle, "loginHint": "eve@example.com"}))
		if again != first {
			t.Fatalf("reconnect made %s, want %s", again, first)
		}
		f.ExpireAccessTokens()
		r := e.call(app, "POST", "/v1/connections/"+first+"/test", nil)
		if r.status != http.StatusOK || r.obj(t)["ok"] != true {
			t.Fatalf("the reconnected connection cannot refresh: %d %s", r.status, r.body)
		}
	})

	t.Run("microsoft AADSTS errors", func(t *testing.T) {
		f := e.fakes[pMicrosoft]
		for _, c := range []struct{ code, desc, want string }{
			{"access_denied", "AADSTS65004: User declined to consent to access the app.", "reject"},
			{"invalid_request", "AADSTS50020: User account from identity provider does not exist in tenant.", "unsupported"},
			{"invalid_request", "AADSTS90014: The required field 'scope' is missing.", "internal"},
		} {
			f.FailNextAuthorize(c.code, c.desc)
			back := e.connect(app, map[string]any{"providerId": pMicrosoft, "appState": "ms"})
			if got := back.Query().Get("error"); got != c.want || back.Query().Get("appState") != "ms" || back.Query().Has("connectionId") {
				t.Errorf("%s: landed at %s, want error=%s", c.desc[:14], back, c.want)
			}
			if back.Query().Has("error_description") {
				t.Errorf("provider text reached the app: %s", back)
			}
		}
	})

	t.Run("code exchange errors in each wire format", func(t *testing.T) {
		for _, p := range []string{pGoogle, pMicrosoft, pZoom, pCalCom} {
			r := e.call(app, "POST", "/v1/connect/code", map[string]any{
				"providerId": p, "scheduleId": "s", "code": "not-a-code", "redirectUri": appCodeURI,
			})
			if code, field := r.errCode(t); r.status != http.StatusBadRequest || code != "invalid_argument" || field != "code" {
				t.Errorf("%s: %d %s", p, r.status, r.body)
			}
		}
	})
}
