package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom/zoomtest"
)

// Each provider's way of saying "this grant is dead" must classify as
// reauth, and its outages as transient, through the real wire format.
func TestClassifyRefreshFailures(t *testing.T) {
	cases := []struct {
		quirk  providertest.Wire
		fail   func(*providertest.Server)
		want   providers.ErrorClass
		hidden string // provider text that must stay out of err.Error()
	}{
		{providertest.Standard{}, func(s *providertest.Server) { s.FailNextRefresh("invalid_grant") }, providers.ClassReauth, "expired or revoked"},
		{googletest.Wire{}, func(s *providertest.Server) { s.FailNextRefresh("invalid_grant") }, providers.ClassReauth, "expired or revoked"},
		{microsofttest.Wire{}, func(s *providertest.Server) { s.FailNextRefresh("invalid_grant") }, providers.ClassReauth, "AADSTS"},
		{zoomtest.Wire{}, func(s *providertest.Server) { s.FailNextRefresh("invalid_grant") }, providers.ClassReauth, "Invalid Token!"},
		{calcomtest.Wire{}, func(s *providertest.Server) { s.FailNextRefresh("invalid_grant") }, providers.ClassReauth, "Unauthorized"},
		{microsofttest.Wire{}, func(s *providertest.Server) { s.FailNextRefreshStatus(503) }, providers.ClassTransient, "Service Unavailable"},
		{zoomtest.Wire{}, func(s *providertest.Server) { s.FailNextRefreshStatus(429) }, providers.ClassTransient, "Too Many"},
		{calcomtest.Wire{}, func(s *providertest.Server) { s.FailNextRefreshStatus(502) }, providers.ClassTransient, "Bad Gateway"},
		{providertest.Standard{}, func(s *providertest.Server) { s.FailNextRefresh("invalid_client") }, providers.ClassOther, "Invalid client secret"},
		{googletest.Wire{}, func(s *providertest.Server) { s.FailNextRefresh("unauthorized_client") }, providers.ClassOther, "refused"},
		{googletest.Wire{}, func(s *providertest.Server) { s.FailNextRefresh("temporarily_unavailable") }, providers.ClassTransient, "refused"},
	}
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	for _, c := range cases {
		t.Run(c.quirk.Name()+"/"+c.want.String()+"/"+c.hidden, func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: c.quirk, TokenLifetime: time.Hour})
			p := s.Provider(t)
			rt := s.Mint("").RefreshToken
			c.fail(s)
			_, err := p.Refresh(ctx, hc, client(s), rt)
			if err == nil {
				t.Fatal("refresh worked")
			}
			if got := p.ClassifyTokenError(err); got != c.want {
				t.Errorf("classified %v, want %v (%v)", got, c.want, err)
			}
			if strings.Contains(err.Error(), c.hidden) || strings.Contains(err.Error(), rt) {
				t.Errorf("error text %q carries provider text or the token", err)
			}
		})
	}
}

// A refresh token revoked by the user at the provider, per quirk.
func TestClassifyRevokedGrant(t *testing.T) {
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	for _, q := range quirks {
		t.Run("fake="+q.Name(), func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: q})
			p := s.Provider(t)
			rt := s.Mint("").RefreshToken
			s.Invalidate(rt)
			_, err := p.Refresh(ctx, hc, client(s), rt)
			if got := p.ClassifyTokenError(err); got != providers.ClassReauth {
				t.Fatalf("classified %v (%v)", got, err)
			}
		})
	}
}

func TestClassifyNetworkAndStructuredErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	p := &providers.Provider{ID: "x", Spec: providers.Spec{Kind: providers.KindOAuth2, TokenURL: dead.URL + "/token"}}
	_, err := p.Refresh(context.Background(), providers.NewHTTPClient(2*time.Second), providers.Client{ID: "c"}, "rt")
	if got := p.ClassifyTokenError(err); got != providers.ClassTransient {
		t.Errorf("connection refused: %v (%v)", got, err)
	}

	resp := func(status int) *http.Response { return &http.Response{StatusCode: status} }
	cases := []struct {
		name string
		p    *providers.Provider
		err  error
		want providers.ErrorClass
	}{
		{"aadsts means nothing to a plain provider", &providers.Provider{}, &oauth2.RetrieveError{Response: resp(400), ErrorCode: "invalid_request",
			ErrorDescription: "AADSTS700082: The refresh token has expired due to inactivity."}, providers.ClassOther},
		{"401 is not reauth outside Cal.com", &providers.Provider{}, &oauth2.RetrieveError{Response: resp(401)}, providers.ClassOther},
		{"deadline", &providers.Provider{}, context.DeadlineExceeded, providers.ClassTransient},
		{"plain error", &providers.Provider{}, errors.New("x"), providers.ClassOther},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.ClassifyTokenError(c.err); got != c.want {
				t.Errorf("got %v want %v", got, c.want)
			}
		})
	}
}

func TestCallbackOutcome(t *testing.T) {
	plain := &providers.Provider{}
	cases := []struct {
		p          *providers.Provider
		code, desc string
		want       string
	}{
		{plain, "", "", providers.OutcomeReject},
		{plain, "access_denied", "<script>alert(1)</script>", providers.OutcomeReject},
		{plain, "invalid_scope", "", providers.OutcomeUnsupported},
		{plain, "unsupported_response_type", "", providers.OutcomeUnsupported},
		{plain, "unauthorized_client", "", providers.OutcomeUnsupported},
		{plain, "server_error", "", providers.OutcomeInternal},
		{plain, "invalid_request", "AADSTS50020: not for a plain provider", providers.OutcomeInternal},
	}
	for _, c := range cases {
		t.Run(c.code+"/"+c.desc, func(t *testing.T) {
			if got := c.p.CallbackOutcome(c.code, c.desc); got != c.want {
				t.Errorf("got %q want %q", got, c.want)
			}
		})
	}
}

// The fake's authorize errors end in the same outcomes.
func TestCallbackOutcomeFromFake(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: microsofttest.Wire{}})
	p := s.Provider(t)
	authURL := p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{LoginHint: "deny"})
	if back := browser(t, authURL); p.CallbackOutcome(back.Get("error"), back.Get("error_description")) != providers.OutcomeReject {
		t.Errorf("deny: %v", back)
	}
	s.FailNextAuthorize("invalid_request", "AADSTS50020: User account does not exist in tenant.")
	if back := browser(t, p.AuthCodeURL(client(s), redirectURL, "st", providers.AuthOptions{})); p.CallbackOutcome(back.Get("error"), back.Get("error_description")) != providers.OutcomeUnsupported {
		t.Errorf("AADSTS50020: %v", back)
	}
}

func TestRevoke(t *testing.T) {
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	for _, q := range []providertest.Wire{providertest.Standard{}, googletest.Wire{}, zoomtest.Wire{}} {
		t.Run("fake="+q.Name(), func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: q})
			p := s.Provider(t)
			tok := s.Mint("")
			if err := p.Revoke(ctx, hc, client(s), tok); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if !s.Revoked(tok.RefreshToken) || s.AccessTokenValid(tok.AccessToken) {
				t.Fatal("the grant is still alive")
			}
			// A second revoke finds the token dead (Google: 400 invalid_token).
			if err := p.Revoke(ctx, hc, client(s), tok); err != nil {
				t.Fatalf("second revoke: %v", err)
			}
		})
	}
	t.Run("no revoke URL", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{Wire: microsofttest.Wire{}})
		if err := s.Provider(t).Revoke(ctx, hc, client(s), s.Mint("")); err != nil || s.RevokeCalls() != 0 {
			t.Fatalf("err=%v calls=%d", err, s.RevokeCalls())
		}
	})
	t.Run("zoom needs basic client auth", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{Wire: zoomtest.Wire{}})
		p := s.Provider(t)
		p.AuthStyle = providers.AuthStyleBody
		if err := p.Revoke(ctx, hc, client(s), model.Token{AccessToken: "at"}); err == nil {
			t.Fatal("revoke without Basic worked")
		}
	})
}
