package providertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/providers/calcom"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom/zoomtest"
)

// noRedirect is a client that shows the fake's redirects instead of
// following them, as the browser side of a test does.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func config(s *providertest.Server) *oauth2.Config {
	sp := s.Spec()
	style := oauth2.AuthStyleInParams
	if sp.AuthStyle == "basic" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID: sp.ClientID, ClientSecret: sp.ClientSecret, RedirectURL: "https://app.example.com/cb",
		Endpoint: oauth2.Endpoint{AuthURL: sp.AuthURL, TokenURL: sp.TokenURL, AuthStyle: style},
	}
}

// authorize runs /authorize and returns the redirect's query.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

func TestCodeFlowPerQuirk(t *testing.T) {
	for _, q := range []providertest.Wire{providertest.Standard{}, googletest.Wire{}, microsofttest.Wire{}, zoomtest.Wire{}, calcomtest.Wire{}} {
		t.Run("fake="+q.Name(), func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: q, RequirePKCE: true, TokenLifetime: time.Hour, Issuer: "https://issuer.example"})
			cfg := config(s)
			v := oauth2.GenerateVerifier()
			back := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
			if back.Get("state") != "st" || back.Get("iss") != "https://issuer.example" || back.Get("code") == "" {
				t.Fatalf("redirect query %v", back)
			}
			ctx := context.Background()
			tok, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token on first consent")
			}
			if q.Name() == calcom.Name && (tok.TokenType != "" || !tok.Expiry.IsZero()) {
				t.Fatalf("Cal.com sent token_type %q / expiry %v", tok.TokenType, tok.Expiry)
			}
			if _, err := cfg.Exchange(ctx, back.Get("code"), oauth2.VerifierOption(v)); err == nil {
				t.Fatal("a code worked twice")
			}
			if !s.AccessTokenValid(tok.AccessToken) || s.TokenCalls() != 2 || s.AuthorizeCalls() != 1 {
				t.Fatalf("valid=%v tokenCalls=%d authorizeCalls=%d", s.AccessTokenValid(tok.AccessToken), s.TokenCalls(), s.AuthorizeCalls())
			}
		})
	}
}

func TestPKCEAndClientAuthAreEnforced(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: zoomtest.Wire{}, RequirePKCE: true})
	cfg := config(s)
	if back := authorize(t, cfg.AuthCodeURL("st")); back.Get("error") != "invalid_request" {
		t.Fatalf("no challenge: %v", back)
	}
	v := oauth2.GenerateVerifier()
	code := authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v))).Get("code")
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams // Zoom takes Basic only
	_, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("body client auth at Zoom: %v", err)
	}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	code = authorize(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v))).Get("code")
	if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); !errors.As(err, &re) {
		t.Fatalf("wrong verifier: %v", err)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: microsofttest.Wire{}})
	cfg := config(s)
	if got := authorize(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("login_hint", "deny"))); got.Get("error") != "access_denied" {
		t.Fatalf("deny: %v", got)
	}
	s.FailNextAuthorize("invalid_request", "AADSTS50020: User account from identity provider does not exist in tenant.")
	if got := authorize(t, cfg.AuthCodeURL("st")); got.Get("error") != "invalid_request" || !strings.HasPrefix(got.Get("error_description"), "AADSTS50020") {
		t.Fatalf("switch: %v", got)
	}
	s.FailNextAuthorize("", "")
	if got := authorize(t, cfg.AuthCodeURL("st")); got.Has("code") || got.Has("error") || got.Get("state") != "st" {
		t.Fatalf("go back: %v", got)
	}
	resp, err := noRedirect.Get(s.URL + "/authorize?client_id=other&redirect_uri=https://evil.example/&response_type=code")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown client: %d", resp.StatusCode)
	}
}

func TestRotatingRefreshTokensAreSingleUse(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: zoomtest.Wire{}, RotateRefreshTokens: true, TokenLifetime: time.Hour})
	cfg := config(s)
	first := s.Mint("")
	tok, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err != nil || tok.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: %v, rotated=%v", err, tok != nil && tok.RefreshToken != first.RefreshToken)
	}
	_, err = cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_request" || !strings.Contains(string(re.Body), "Invalid Token!") {
		t.Fatalf("reused refresh token: %v", err)
	}
	if s.RefreshCalls() != 2 {
		t.Fatalf("refresh calls %d", s.RefreshCalls())
	}
}

func TestFailureSwitches(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: microsofttest.Wire{}, TokenLifetime: time.Hour})
	cfg := config(s)
	rt := s.Mint("").RefreshToken
	refresh := func() error {
		_, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
		return err
	}
	s.FailNextRefreshStatus(503)
	var re *oauth2.RetrieveError
	if err := refresh(); !errors.As(err, &re) || re.Response.StatusCode != 503 {
		t.Fatalf("503: %v", err)
	}
	s.FailNextRefresh("invalid_grant")
	if err := refresh(); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.HasPrefix(re.ErrorDescription, "AADSTS70008") {
		t.Fatalf("invalid_grant: %v", err)
	}
	if err := refresh(); err != nil {
		t.Fatalf("after the switches: %v", err)
	}
}

func TestCalComRefreshEndpoint(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: calcomtest.Wire{}})
	rt := s.Mint("").RefreshToken
	body := `{"grant_type":"refresh_token","client_id":"` + providertest.DefaultClientID + `","client_secret":"` + providertest.DefaultClientSecret + `"}`
	req, _ := http.NewRequest(http.MethodPost, s.Spec().RefreshURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+rt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != 200 || got["access_token"] == nil || len(got) != 1 {
		t.Fatalf("status %d body %v", resp.StatusCode, got)
	}
}

func TestEchoAPIAndConcurrency(t *testing.T) {
	s := providertest.New(t, providertest.Options{TokenLifetime: time.Hour})
	tok := s.Mint("alice@example.com")
	var wg sync.WaitGroup
	errs := make(chan error, 500)
	for range 500 {
		wg.Go(func() {
			req, _ := http.NewRequest("PROPFIND", s.URL+"/api/cal/x?a=1", strings.NewReader("body"))
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var e providertest.Echo
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 200 ||
				e.Method != "PROPFIND" || e.Path != "/api/cal/x" || e.RawQuery != "a=1" || e.BodyLength != 4 || e.User != "alice@example.com" ||
				resp.Header.Get("Set-Cookie") == "" {
				errs <- errors.New("bad echo")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.ExpireAccessTokens()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || s.APICalls() != 501 {
		t.Fatalf("stale token: %d, calls %d", resp.StatusCode, s.APICalls())
	}
}
