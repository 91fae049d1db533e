package api_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// POST /v1/connect/code: the app ran the authorize step itself.
func TestConnectCode(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	f := e.fakes[pGoogle]
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {"fake-client-id"}, "redirect_uri": {appCodeURI}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"app-own-state"}, "login_hint": {"hal@example.com"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	back := newBrowser(t).hop(f.URL+"/authorize?"+q.Encode(), http.StatusFound)
	code := param(t, back, "code")
	if code == "" {
		t.Fatalf("no code at %s", redact(back))
	}
	body := func(over map[string]any) map[string]any {
		b := map[string]any{"providerId": pGoogle, "scheduleId": "s1", "code": code, "redirectUri": appCodeURI, "codeVerifier": verifier, "name": "Hal's calendar"}
		for k, v := range over {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		over  map[string]any
		field string
	}{
		{"redirect URI not the app's", map[string]any{"redirectUri": "https://app.example.com/other"}, "redirectUri"},
		{"no code", map[string]any{"code": ""}, "code"},
		{"bad verifier", map[string]any{"codeVerifier": "short"}, "codeVerifier"},
		{"unknown field", map[string]any{"redirect_uri": appCodeURI}, "redirect_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(app, "POST", "/v1/connect/code", body(tc.over))
			if c, field := r.errCode(t); r.status != 400 || c != "invalid_argument" || field != tc.field {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	if f.TokenCalls() != 0 {
		t.Fatal("refused requests reached the token endpoint")
	}
	c := connectionOf(t, e.call(app, "POST", "/v1/connect/code", body(nil)))
	if c["providerId"] != pGoogle || c["account"].(map[string]any)["email"] != "hal@example.com" {
		t.Errorf("connection %v", c)
	}
	r := e.call(app, "POST", "/v1/connect/code", body(nil))
	if code, field := r.errCode(t); r.status != 400 || code != "invalid_argument" || field != "code" {
		t.Errorf("a used code: %d %s", r.status, r.body)
	}
}

func TestConnectOAuthValidation(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	base := func(over map[string]any) map[string]any {
		b := map[string]any{"providerId": pStd, "scheduleId": "s1", "redirectUrl": appRedirect}
		for k, v := range over {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"unknown provider", base(map[string]any{"providerId": "nope"}), "providerId"},
		{"credentials provider", base(map[string]any{"providerId": pAPIKey}), "providerId"},
		{"no schedule", base(map[string]any{"scheduleId": ""}), "scheduleId"},
		{"schedule with a space", base(map[string]any{"scheduleId": "a b"}), "scheduleId"},
		{"long schedule", base(map[string]any{"scheduleId": strings.Repeat("s", 257)}), "scheduleId"},
		{"long appState", base(map[string]any{"appState": strings.Repeat("s", 1025)}), "appState"},
		{"control in appState", base(map[string]any{"appState": "a\nb"}), "appState"},
		{"scope with a space", base(map[string]any{"scopes": []string{"a b"}}), "scopes"},
		{"unknown field", base(map[string]any{"redirectURL": appRedirect}), "redirectURL"},
		{"wrong type", base(map[string]any{"scopes": "read"}), "scopes"},
		{"not JSON", "{", ""},
		{"trailing data", `{"providerId":"standard"} {}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(app, "POST", "/v1/connect/oauth", tc.body)
			if code, field := r.errCode(t); r.status != 400 || code != "invalid_argument" || field != tc.field {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	r := e.call(app, "POST", "/v1/connect/oauth", strings.Repeat(" ", 300<<10))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d", r.status)
	}

	// Extra scopes are added to the provider's defaults.
	b := newBrowser(t)
	authorize := b.toProvider(e.startOAuth(app, base(map[string]any{"scopes": []string{"write", "read"}})))
	if got := param(t, authorize, "scope"); got != "read write" {
		t.Errorf("scope %q", got)
	}
}
