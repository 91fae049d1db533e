package providers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
	"github.com/oauthbroker/broker/providers/providertest"
	"github.com/oauthbroker/broker/providers/zoom/zoomtest"
)

func TestFetchAccountPerQuirk(t *testing.T) {
	cases := []struct {
		quirk     providertest.Wire
		user      string
		wantEmail string
		wantName  string
	}{
		{providertest.Standard{}, "ann@example.com", "ann@example.com", "Ann Example"},
		{googletest.Wire{}, "bob@gmail.example", "bob@gmail.example", "Bob Example"},
		{microsofttest.Wire{}, "cy@contoso.example", "cy@contoso.example", "Cy Example"},
		// Graph's mail is null for some accounts: the UPN stands in.
		{microsofttest.Wire{}, "upn.dee@contoso.example", "upn.dee@contoso.example", "Upn.dee Example"},
		{zoomtest.Wire{}, "eve@zoom.example", "eve@zoom.example", "Eve Example"},
		{calcomtest.Wire{}, "fay@cal.example", "fay@cal.example", "Fay Example"},
	}
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	for _, c := range cases {
		t.Run(c.quirk.Name()+"/"+c.user, func(t *testing.T) {
			s := providertest.New(t, providertest.Options{Wire: c.quirk})
			p := s.Provider(t)
			acc, err := p.FetchAccount(ctx, hc, s.Mint(c.user))
			if err != nil {
				t.Fatal(err)
			}
			want := providers.Account{ID: s.AccountID(c.user), Email: c.wantEmail, Name: c.wantName}
			if acc != want {
				t.Errorf("got %+v want %+v", acc, want)
			}
		})
	}
	t.Run("stale token", func(t *testing.T) {
		s := providertest.New(t, providertest.Options{Wire: googletest.Wire{}})
		tok := s.Mint("")
		s.ExpireAccessTokens()
		if _, err := s.Provider(t).FetchAccount(ctx, hc, tok); !errors.Is(err, providers.ErrRejected) {
			t.Fatalf("err=%v", err)
		}
	})
	t.Run("no user-info URL", func(t *testing.T) {
		p := &providers.Provider{Spec: providers.Spec{Kind: providers.KindOAuth2}}
		if acc, err := p.FetchAccount(ctx, hc, model.Token{AccessToken: "x"}); err != nil || acc != (providers.Account{}) {
			t.Fatalf("acc=%+v err=%v", acc, err)
		}
	})
}

func TestTestCredentials(t *testing.T) {
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	s := providertest.New(t, providertest.Options{Wire: calcomtest.Wire{}})
	p := s.Provider(t)
	tok := s.Mint("")
	if err := p.Test(ctx, hc, tok); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	cases := []struct {
		name     string
		testURL  string
		tok      model.Token
		rejected bool
	}{
		{"unknown token", s.URL + "/api/me", model.Token{AccessToken: "nope"}, true},
		{"forbidden", s.URL + "/api/status/403", tok, true},
		{"server error", s.URL + "/api/status/500", tok, false},
		{"redirect is not followed", s.URL + "/api/redirect", tok, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := *p
			q.TestURL = c.testURL
			err := q.Test(ctx, hc, c.tok)
			if err == nil || errors.Is(err, providers.ErrRejected) != c.rejected {
				t.Fatalf("err=%v, want rejected=%v", err, c.rejected)
			}
		})
	}
}

// A CalDAV server is tested with PROPFIND Depth: 0 and Basic credentials.
func TestTestCalDAV(t *testing.T) {
	var depth, method atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method.Store(r.Method)
		depth.Store(r.Header.Get("Depth"))
		if u, pw, ok := r.BasicAuth(); !ok || u != "me" || pw != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusMultiStatus)
	}))
	t.Cleanup(srv.Close)
	p := &providers.Provider{ID: "caldav", Spec: providers.Spec{Kind: providers.KindBasic, TestURL: srv.URL + "/dav/",
		TestMethod: "PROPFIND", Inject: &providers.Inject{Type: providers.InjectBasic}}}
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	if err := p.Test(ctx, hc, model.Token{Username: "me", Password: "pw"}); err != nil {
		t.Fatalf("good password: %v", err)
	}
	if method.Load() != "PROPFIND" || depth.Load() != "0" {
		t.Errorf("method %v depth %v", method.Load(), depth.Load())
	}
	if err := p.Test(ctx, hc, model.Token{Username: "me", Password: "bad"}); !errors.Is(err, providers.ErrRejected) {
		t.Fatalf("bad password: %v", err)
	}
}

func TestHTTPClientNeverFollowsRedirects(t *testing.T) {
	var followed atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Store(true) }))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(srv.Close)
	resp, err := providers.NewHTTPClient(0).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || followed.Load() {
		t.Fatalf("status %d followed=%v", resp.StatusCode, followed.Load())
	}
}

// Shapes the catalog's real user-info URLs answer with, beyond the fakes'.
func TestFetchAccountShapes(t *testing.T) {
	cases := []struct {
		name, body string
		want       providers.Account
	}{
		{"oidc userinfo", `{"sub":"AAAA-pairwise","name":"Cy","email":"cy@contoso.example"}`,
			providers.Account{ID: "AAAA-pairwise", Email: "cy@contoso.example", Name: "Cy"}},
		{"numeric id keeps every digit", `{"id":12345678901234567,"email":"f@x","preferred_username":"fay"}`,
			providers.Account{ID: "12345678901234567", Email: "f@x", Name: "fay"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(c.body)) }))
			t.Cleanup(srv.Close)
			p := &providers.Provider{Spec: providers.Spec{Kind: providers.KindOAuth2, UserInfoURL: srv.URL}}
			got, err := p.FetchAccount(context.Background(), providers.NewHTTPClient(0), model.Token{AccessToken: "at"})
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
	t.Run("no id is an error", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"email":"x@y"}`)) }))
		t.Cleanup(srv.Close)
		p := &providers.Provider{Spec: providers.Spec{Kind: providers.KindOAuth2, UserInfoURL: srv.URL}}
		if _, err := p.FetchAccount(context.Background(), providers.NewHTTPClient(0), model.Token{AccessToken: "at"}); err == nil {
			t.Fatal("an account without an id")
		}
	})
}

// A transport error names the request URL; a credential injected into the
// query must not ride along into the error (and so into a log line).
func TestTransportErrorsCarryNoQueryCredential(t *testing.T) {
	const secret = "sk_live_query_secret_0123456789"
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	query := &providers.Inject{Type: providers.InjectQuery, Name: "api_key"}
	ctx, hc := context.Background(), providers.NewHTTPClient(5*time.Second)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"test", func() error {
			p := &providers.Provider{ID: "k", Spec: providers.Spec{Kind: providers.KindAPIKey, TestURL: hangUp.URL + "/me?v=1", Inject: query}}
			return p.Test(ctx, hc, model.Token{APIKey: secret})
		}},
		{"user info", func() error {
			p := &providers.Provider{ID: "o", Spec: providers.Spec{Kind: providers.KindOAuth2, UserInfoURL: hangUp.URL + "/me", Inject: query}}
			_, err := p.FetchAccount(ctx, hc, model.Token{AccessToken: secret})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("a hung-up connection succeeded")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "api_key") {
				t.Fatalf("error carries the credential: %v", err)
			}
			if !strings.Contains(err.Error(), hangUp.URL) {
				t.Errorf("error no longer names the endpoint: %v", err)
			}
		})
	}
}
