package api_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/state"
)

// Every outcome of an authorization response reaches the app's redirect
// URL as one of three words, with appState echoed and nothing of the
// provider's text.
func TestCallbackErrorValues(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	f := e.fakes[pIss]
	for _, tc := range []struct {
		name, code, desc, want string
	}{
		{"access_denied", "access_denied", "The user said no", "reject"},
		{"invalid_scope", "invalid_scope", "", "unsupported"},
		{"unsupported_response_type", "unsupported_response_type", "", "unsupported"},
		{"unauthorized_client", "unauthorized_client", "", "unsupported"},
		{"server_error", "server_error", "<script>alert(1)</script>", "internal"},
		{"temporarily_unavailable", "temporarily_unavailable", "", "internal"},
		{"unknown code", "weird_error\r\nSet-Cookie: x=1", "\"'><img src=x>", "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens := f.TokenCalls()
			f.FailNextAuthorize(tc.code, tc.desc)
			back := e.connect(app, map[string]any{"providerId": pIss, "appState": "st<&>\"'"})
			want := url.Values{"from": {"broker"}, "error": {tc.want}, "appState": {"st<&>\"'"}}
			if back.Query().Encode() != want.Encode() {
				t.Errorf("landed at %s, want query %s", back, want.Encode())
			}
			if f.TokenCalls() != tokens {
				t.Error("a provider error caused a token request")
			}
		})
	}

	t.Run("neither code nor error (Cal.com's Go back)", func(t *testing.T) {
		b := newBrowser(t)
		cb := b.toCallback(b.toProvider(e.startOAuth(app, map[string]any{"providerId": pIss, "appState": "back"})))
		u := mustURL(t, cb)
		q := u.Query()
		q.Del("code")
		u.RawQuery = q.Encode()
		back := b.finish(u.String())
		if back.Query().Get("error") != "reject" || back.Query().Get("appState") != "back" {
			t.Errorf("landed at %s", back)
		}
	})

	t.Run("token exchange fails", func(t *testing.T) {
		b := newBrowser(t)
		cb := b.toCallback(b.toProvider(e.startOAuth(app, map[string]any{"providerId": pIss})))
		back := b.finish(withParam(t, cb, "code", "code_forged"))
		if back.Query().Get("error") != "internal" || back.Query().Has("connectionId") {
			t.Errorf("landed at %s", back)
		}
	})

	t.Run("matching iss connects", func(t *testing.T) {
		b := newBrowser(t)
		cb := b.toCallback(b.toProvider(e.startOAuth(app, map[string]any{"providerId": pIss})))
		if param(t, cb, "iss") != "https://issuer.example" {
			t.Fatalf("the fake sent no iss: %s", redact(cb))
		}
		connected(t, b.finish(cb))
	})
}

// flowAtCallback runs a flow up to the provider's answer: the browser holds
// its binding cookie and the returned URL is the genuine callback.
func (e *env) flowAtCallback(app testApp, provider string) (b *browser, callback, sessionID string) {
	e.t.Helper()
	b = newBrowser(e.t)
	oauthURL := e.startOAuth(app, map[string]any{"providerId": provider})
	callback = b.toCallback(b.toProvider(oauthURL))
	return b, callback, path.Base(oauthURL)
}

// A state that does not verify never causes a redirect nor a token
// request, and does not spend the session: the genuine callback still
// works afterwards, once.
func TestCallbackRefusesBadStates(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	f := e.fakes[pIss]
	b, cb, sid := e.flowAtCallback(app, pIss)
	claims := state.Claims{SessionID: sid, Provider: pIss, App: app.id}
	sign := func(s *state.Signer) string {
		tok, err := s.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	genuine := param(t, cb, "state")
	parts := strings.Split(genuine, ".")
	noneAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"broker-state+jwt","kid":"s1"}`)) + "." + parts[1] + "."
	for _, tc := range []struct{ name, url string }{
		{"forged", withParam(t, cb, "state", "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJ4In0.c2lnbmF0dXJl")},
		{"malformed", withParam(t, cb, "state", "not-a-jwt")},
		{"empty", withParam(t, cb, "state", "")},
		{"oversized", withParam(t, cb, "state", strings.Repeat("a", 3000)+"."+strings.Repeat("b", 3000)+".c")},
		{"expired", withParam(t, cb, "state", sign(e.newSigner(e.stateSecret, func() time.Time { return time.Now().Add(-15 * time.Minute) })))},
		{"signed by another key", withParam(t, cb, "state", sign(e.newSigner(randomBytes(32), nil)))},
		{"alg none", withParam(t, cb, "state", noneAlg)},
		{"tampered payload", withParam(t, cb, "state", parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"`+sid+`"}`))+"."+parts[2])},
		{"missing", strings.Replace(cb, "state=", "nostate=", 1)},
		{"twice", cb + "&state=" + url.QueryEscape(genuine)},
		{"query too large", cb + "&pad=" + strings.Repeat("x", 9000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isErrorPage(t, b.get(tc.url))
		})
	}
	if n := f.TokenCalls(); n != 0 {
		t.Fatalf("%d token requests for states that do not verify", n)
	}

	connected(t, b.finish(cb))
	e.noneLogged(genuine, param(t, cb, "code"))
	if f.TokenCalls() != 1 {
		t.Fatalf("token calls %d, want 1", f.TokenCalls())
	}
	t.Run("replayed", func(t *testing.T) {
		isErrorPage(t, b.get(cb))
		if f.TokenCalls() != 1 {
			t.Error("a replayed state caused a token request")
		}
	})
}

// The callback is bound to the browser that opened the oauthUrl.
func TestCallbackFromAnotherBrowser(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	f := e.fakes[pIss]

	t.Run("no cookie", func(t *testing.T) {
		victim, cb, _ := e.flowAtCallback(app, pIss)
		isErrorPage(t, newBrowser(t).get(cb))
		// The attempt spent the session: the real browser cannot finish either.
		isErrorPage(t, victim.get(cb))
	})
	t.Run("wrong cookie", func(t *testing.T) {
		_, cb, sid := e.flowAtCallback(app, pIss)
		other := newBrowser(t)
		other.c.Jar.SetCookies(mustURL(t, e.url+"/oauth/"), []*http.Cookie{{Name: "broker_bind_" + sid, Value: "guessed", Path: "/oauth"}})
		isErrorPage(t, other.get(cb))
	})
	t.Run("another flow's cookie", func(t *testing.T) {
		attacker, _, _ := e.flowAtCallback(app, pIss)
		_, victimCB, _ := e.flowAtCallback(app, pIss)
		isErrorPage(t, attacker.get(victimCB))
	})
	t.Run("start opened twice", func(t *testing.T) {
		oauthURL := e.startOAuth(app, map[string]any{"providerId": pIss})
		b := newBrowser(t)
		b.toProvider(oauthURL)
		isErrorPage(t, b.get(oauthURL))
		isErrorPage(t, newBrowser(t).get(oauthURL))
	})
	t.Run("unknown session", func(t *testing.T) {
		isErrorPage(t, newBrowser(t).get(e.url+"/oauth/start/ses_aaaaaaaaaaaaaaaaaaaaaaaaaa"))
		if r := newBrowser(t).get(e.url + "/oauth/start/..%2f..%2fv1"); r.status < 400 || r.header.Get("Location") != "" {
			t.Errorf("odd session id: %d %q", r.status, r.header.Get("Location"))
		}
	})
	if n := f.TokenCalls(); n != 0 {
		t.Fatalf("%d token requests from the wrong browser", n)
	}
}

// Mix-up defence: an iss that is not the session's provider's issuer ends
// the flow before any token request.
func TestCallbackIssuerMismatch(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	b, cb, _ := e.flowAtCallback(app, pMixup)
	if param(t, cb, "iss") != "https://attacker.example" {
		t.Fatalf("fake sent iss %q", param(t, cb, "iss"))
	}
	isErrorPage(t, b.get(cb))
	if n := e.fakes[pMixup].TokenCalls(); n != 0 {
		t.Fatalf("%d token requests after an iss mismatch", n)
	}
	// The session is spent.
	isErrorPage(t, b.get(withParam(t, cb, "iss", "https://issuer.example")))
}

func TestConnectOAuthRefusesRedirectURLs(t *testing.T) {
	e := newEnv(t)
	app := e.newApp()
	for _, raw := range []string{
		"https://app.example.com.evil.com/cb",
		"https://evilapp.example.com/cb",
		"https://app.example.com@evil.com/cb",
		"//evil.com/cb",
		"javascript:alert(1)//app.example.com",
		"http://app.example.com/cb",
		"https://app.example.com/cb#x",
		"https://app.example.com/cb?code=x&state=y",
		"https://app.example.com/cb?connectionId=con_x",
		"https://app.example.com/cb?error=reject",
		"https://app.example.com\\@evil.com/cb",
		"https:/app.example.com/cb",
		"/cb",
		"",
	} {
		t.Run(raw, func(t *testing.T) {
			r := e.call(app, "POST", "/v1/connect/oauth", map[string]any{
				"providerId": pStd, "scheduleId": "s", "redirectUrl": raw,
			})
			if code, field := r.errCode(t); r.status != http.StatusBadRequest || code != "invalid_argument" || field != "redirectUrl" {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("subdomain and own query accepted", func(t *testing.T) {
		back := e.connect(app, map[string]any{"providerId": pStd, "redirectUrl": "https://eu.app.example.com/done?tab=cal&x=%2F"})
		if back.Host != "eu.app.example.com" || back.Path != "/done" || !strings.HasPrefix(back.RawQuery, "tab=cal&x=%2F&") {
			t.Errorf("landed at %s", back)
		}
	})
}
