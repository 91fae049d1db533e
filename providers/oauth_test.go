package providers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom/zoomtest"
)

const redirectURL = "https://broker.example.com/oauth/callback"

var quirks = []providertest.Wire{providertest.Standard{}, googletest.Wire{}, microsofttest.Wire{}, zoomtest.Wire{}, calcomtest.Wire{}}

// browser plays the user's browser at the fake's authorize endpoint: it
// returns the query the provider redirects back with.
func browser(t *testing.T, authURL string) url.Values {
	t.Helper()
	hc := providers.NewHTTPClient(5 * time.Second)
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

func client(s *providertest.Server) providers.Client {
	return providers.Client{ID: s.Options().ClientID, Secret: s.Options().ClientSecret}
}

// connect runs a whole authorization code flow with PKCE and returns the
// token.
func connect(t *testing.T, s *providertest.Server, p *providers.Provider, o providers.AuthOptions) *oauth2.Token {
	t.Helper()
	o.Verifier = oauth2.GenerateVerifier()
	back := browser(t, p.AuthCodeURL(client(s), redirectURL, "state-1", o))
	if back.Get("code") == "" {
		t.Fatalf("no code: error=%q", back.Get("error"))
	}
	tok, err := p.Exchange(context.Background(), providers.NewHTTPClient(5*time.Second), client(s), redirectURL, back.Get("code"), o.Verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func TestAuthCodeURL(t *testing.T) {
	cases := []struct {
		quirk providertest.Wire
		want  map[string]string
	}{
		{providertest.Standard{}, map[string]string{"scope": "read write"}},
		{googletest.Wire{}, map[string]string{"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}},
		{calcomtest.Wire{}, map[string]string{"scope": "READ_BOOKING,READ_PROFILE"}},
	}
	for _, c := range cases {
		t.Run("fake="+c.quirk.Name(), func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: c.quirk})
			p := s.Provider(t)
			p.AuthParams = map[string]string{"state": "hijack", "redirect_uri": "https://evil.example"}
			for k, v := range s.Spec().AuthParams {
				p.AuthParams[k] = v
			}
			raw := p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{Verifier: oauth2.GenerateVerifier(), LoginHint: "a@example.com"})
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			for k, v := range c.want {
				if q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if q.Get("state") != "st" || q.Get("redirect_uri") != redirectURL || q.Get("code_challenge_method") != "S256" ||
				q.Get("code_challenge") == "" || q.Get("login_hint") != "a@example.com" || q.Get("client_id") != s.Options().ClientID {
				t.Errorf("authorize query %v", q)
			}
		})
	}
	t.Run("requested scopes replace the defaults", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{Wire: calcomtest.Wire{}})
		p := s.Provider(t)
		u, _ := url.Parse(p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{Scopes: []string{"READ_BOOKING"}}))
		if got := u.Query().Get("scope"); got != "READ_BOOKING" {
			t.Errorf("scope %q", got)
		}
		if u.Query().Has("code_challenge") {
			t.Error("a challenge without a verifier")
		}
	})
}

func TestExchangePerQuirk(t *testing.T) {
	for _, q := range quirks {
		t.Run("fake="+q.Name(), func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: q, RequirePKCE: true, TokenLifetime: time.Hour})
			p := s.Provider(t)
			before := time.Now()
			tok := connect(t, s, p, providers.AuthOptions{})
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType == "" {
				t.Fatalf("token %+v", tok)
			}
			// Cal.com sends neither expires_in nor token_type: the catalog's
			// lifetime and Bearer fill in.
			wantLife := time.Hour
			if q.Name() == calcom.Name {
				wantLife = 30 * time.Minute
				if tok.TokenType != "Bearer" {
					t.Errorf("token type %q", tok.TokenType)
				}
			}
			if d := tok.Expiry.Sub(before); d < wantLife-time.Minute || d > wantLife+time.Minute {
				t.Errorf("expiry in %v, want about %v", d, wantLife)
			}
			if got := providers.TokenFromOAuth2(tok); got.AccessToken != tok.AccessToken || got.RefreshToken != tok.RefreshToken || !got.Expiry.Equal(tok.Expiry) {
				t.Errorf("TokenFromOAuth2 %+v", got)
			}
		})
	}
}

func TestExchangeRefusals(t *testing.T) {
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	t.Run("wrong verifier", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{RequirePKCE: true})
		p := s.Provider(t)
		back := browser(t, p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{Verifier: oauth2.GenerateVerifier()}))
		if _, err := p.Exchange(ctx, hc, client(s), redirectURL, back.Get("code"), oauth2.GenerateVerifier()); err == nil {
			t.Fatal("exchange with another verifier worked")
		}
	})
	t.Run("zoom refuses body client auth", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{Wire: zoomtest.Wire{}})
		p := s.Provider(t)
		p.AuthStyle = providers.AuthStyleBody
		v := oauth2.GenerateVerifier()
		back := browser(t, p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{Verifier: v}))
		_, err := p.Exchange(ctx, hc, client(s), redirectURL, back.Get("code"), v)
		if err == nil || s.TokenCalls() != 1 {
			t.Fatalf("err=%v token calls=%d (no auto-detect retry)", err, s.TokenCalls())
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{})
		p := s.Provider(t)
		v := oauth2.GenerateVerifier()
		back := browser(t, p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{Verifier: v}))
		_, err := p.Exchange(ctx, hc, providers.Client{ID: s.Options().ClientID, Secret: "wrong"}, redirectURL, back.Get("code"), v)
		if err == nil || strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "Invalid client secret") {
			t.Fatalf("err=%v", err)
		}
	})
}

// Google returns a refresh token on first consent only, unless the
// authorize request forces consent again (the catalog does).
func TestGoogleRefreshTokenOnlyOnFirstConsent(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: googletest.Wire{}})
	p := s.Provider(t)
	p.AuthParams = map[string]string{"access_type": "offline"}
	if tok := connect(t, s, p, providers.AuthOptions{}); tok.RefreshToken == "" {
		t.Fatal("no refresh token on first consent")
	}
	if tok := connect(t, s, p, providers.AuthOptions{}); tok.RefreshToken != "" {
		t.Fatal("a refresh token on the second consent")
	}
	p.AuthParams["prompt"] = "consent"
	if tok := connect(t, s, p, providers.AuthOptions{}); tok.RefreshToken == "" {
		t.Fatal("prompt=consent gave no refresh token")
	}
}

func TestRefreshPerQuirk(t *testing.T) {
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	for _, q := range quirks {
		t.Run("fake="+q.Name(), func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: q, TokenLifetime: time.Hour})
			p := s.Provider(t)
			seed := s.Mint("")
			tok, err := p.Refresh(ctx, hc, client(s), seed.RefreshToken)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if tok.AccessToken == seed.AccessToken || !s.AccessTokenValid(tok.AccessToken) {
				t.Error("no new access token")
			}
			if tok.RefreshToken != seed.RefreshToken {
				t.Error("the old refresh token was not kept when none came back")
			}
			if tok.TokenType != "Bearer" && tok.TokenType != "bearer" || tok.Expiry.IsZero() {
				t.Errorf("type %q expiry %v", tok.TokenType, tok.Expiry)
			}
			if s.RefreshCalls() != 1 || s.TokenCalls() != 1 {
				t.Errorf("refresh calls %d token calls %d", s.RefreshCalls(), s.TokenCalls())
			}
		})
	}
	t.Run("no refresh token", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{})
		p := s.Provider(t)
		_, err := p.Refresh(ctx, hc, client(s), "")
		if p.ClassifyTokenError(err) != providers.ClassReauth || s.TokenCalls() != 0 {
			t.Fatalf("err=%v calls=%d", err, s.TokenCalls())
		}
	})
}

// Zoom's refresh tokens are single use: each refresh must carry the one the
// previous refresh returned.
func TestZoomRotatingRefreshTokens(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: zoomtest.Wire{}, RotateRefreshTokens: true, TokenLifetime: time.Hour})
	p := s.Provider(t)
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	rt := s.Mint("").RefreshToken
	first := rt
	for i := range 20 {
		tok, err := p.Refresh(ctx, hc, client(s), rt)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if tok.RefreshToken == rt {
			t.Fatalf("refresh %d did not rotate", i)
		}
		rt = tok.RefreshToken
	}
	_, err := p.Refresh(ctx, hc, client(s), first)
	if got := p.ClassifyTokenError(err); got != providers.ClassReauth {
		t.Fatalf("reused refresh token: %v classified %v", err, got)
	}
}

func TestGrantedScopes(t *testing.T) {
	withScope := (&oauth2.Token{}).WithExtra(map[string]any{"scope": "a b  c a"})
	withComma := (&oauth2.Token{}).WithExtra(map[string]any{"scope": "X,Y"})
	cases := []struct {
		name string
		tok  *oauth2.Token
		sep  string
		want string
	}{
		{"response scope", withScope, " ", "a b c"},
		{"comma separator", withComma, ",", "X Y"},
		{"none in response", &oauth2.Token{}, " ", "r1 r2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(providers.GrantedScopes(c.tok, []string{"r1", "r2"}, c.sep), " "); got != c.want {
				t.Errorf("got %q want %q", got, c.want)
			}
		})
	}
}
