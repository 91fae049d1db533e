package providers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
	"github.com/oauthbroker/broker/providers/providertest"
)

// echo sends req to the fake's echo API and returns what the provider saw.
func echo(t *testing.T, req *http.Request) providertest.Echo {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e providertest.Echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("echo: status %d err %v", resp.StatusCode, err)
	}
	return e
}

func TestInject(t *testing.T) {
	const key = "k3y/with+chars="
	cases := []struct {
		name      string
		kind      providers.Kind
		inject    providers.Inject
		headers   map[string]string
		tok       model.Token
		rawQuery  string
		header    string // header the credential must be in, alone
		want      string
		wantQuery url.Values
	}{
		{name: "bearer replaces the caller's", kind: providers.KindOAuth2, inject: providers.Inject{Type: providers.InjectBearer},
			tok: model.Token{AccessToken: "at-1"}, header: "Authorization", want: "Bearer at-1"},
		{name: "named header, any case", kind: providers.KindAPIKey, inject: providers.Inject{Type: providers.InjectHeader, Name: "x-api-key"},
			tok: model.Token{APIKey: key}, header: "X-Api-Key", want: key},
		{name: "raw key in Authorization", kind: providers.KindAPIKey, inject: providers.Inject{Type: providers.InjectHeader, Name: "Authorization"},
			tok: model.Token{APIKey: key}, header: "Authorization", want: key},
		{name: "basic", kind: providers.KindBasic, inject: providers.Inject{Type: providers.InjectBasic},
			tok: model.Token{Username: "me@example.com", Password: "p:w"}, header: "Authorization", want: "Basic bWVAZXhhbXBsZS5jb206cDp3"},
		{name: "static headers beside the credential", kind: providers.KindOAuth2, inject: providers.Inject{Type: providers.InjectBearer},
			headers: map[string]string{"cal-api-version": "2024-08-13", "X-Extra": "1"},
			tok:     model.Token{AccessToken: "at-2"}, header: "Cal-Api-Version", want: "2024-08-13"},
		{name: "query drops every caller copy", kind: providers.KindAPIKey, inject: providers.Inject{Type: providers.InjectQuery, Name: "api_key"},
			tok: model.Token{APIKey: key}, rawQuery: "a=1&api_key=evil&API_KEY=x&%61pi_key=y&b=2;api_key=z&%zz=1&&d=4",
			wantQuery: url.Values{"a": {"1"}, "api_key": {key}, "d": {"4"}}},
	}
	s := providertest.New(t, providertest.Options{OpenAPI: true})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &providers.Provider{ID: "p", Spec: providers.Spec{Kind: c.kind, Inject: &c.inject, Headers: c.headers}}
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/x", nil)
			req.URL.RawQuery = c.rawQuery
			req.Header.Set("Authorization", "Bearer caller-credential")
			req.Header.Set("X-Api-Key", "caller-key")
			req.Header.Set("Cal-Api-Version", "caller-version")
			p.Inject(req, c.tok)
			e := echo(t, req)
			if c.header != "" {
				if got := e.Headers[c.header]; len(got) != 1 || got[0] != c.want {
					t.Errorf("%s = %q, want exactly %q", c.header, got, c.want)
				}
			}
			if c.wantQuery != nil {
				got, err := url.ParseQuery(e.RawQuery)
				if err != nil || got.Encode() != c.wantQuery.Encode() {
					t.Errorf("query %q (%v), want %q", e.RawQuery, err, c.wantQuery.Encode())
				}
			}
			for k, v := range c.headers {
				if got := e.Headers[http.CanonicalHeaderKey(k)]; len(got) != 1 || got[0] != v {
					t.Errorf("static %s = %q", k, got)
				}
			}
		})
	}
}

// The proxy's view: a fake's own Spec injects a token the fake accepts.
func TestInjectAgainstFake(t *testing.T) {
	s := providertest.New(t, providertest.Options{Wire: calcomtest.Wire{}})
	p := s.Provider(t)
	tok := s.Mint("gus@example.com")
	req, _ := http.NewRequest(http.MethodGet, p.APIBaseURL+"/bookings", nil)
	p.Inject(req, tok)
	if e := echo(t, req); e.User != "gus@example.com" || e.Headers["Cal-Api-Version"][0] != calcomtest.APIVersion {
		t.Fatalf("echo %+v", e)
	}
}

func BenchmarkInject(b *testing.B) {
	tok := model.Token{AccessToken: "ya29.a0AfB_byC-0123456789abcdefghijklmnopqrstuvwxyz", APIKey: "key-0123456789",
		Username: "user@example.com", Password: "app-specific-password"}
	cases := []struct {
		name string
		spec providers.Spec
	}{
		{"bearer", providers.Spec{Kind: providers.KindOAuth2, Inject: &providers.Inject{Type: providers.InjectBearer}}},
		{"bearer+static", providers.Spec{Kind: providers.KindOAuth2, Inject: &providers.Inject{Type: providers.InjectBearer},
			Headers: map[string]string{"Cal-Api-Version": "2024-08-13"}}},
		{"bearer+static-lowercase", providers.Spec{Kind: providers.KindOAuth2, Inject: &providers.Inject{Type: providers.InjectBearer},
			Headers: map[string]string{"cal-api-version": "2024-08-13"}}},
		{"header", providers.Spec{Kind: providers.KindAPIKey, Inject: &providers.Inject{Type: providers.InjectHeader, Name: "X-Api-Key"}}},
		{"query", providers.Spec{Kind: providers.KindAPIKey, Inject: &providers.Inject{Type: providers.InjectQuery, Name: "key"}}},
		{"basic", providers.Spec{Kind: providers.KindBasic, Inject: &providers.Inject{Type: providers.InjectBasic}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := &providers.Provider{ID: "p", Spec: c.spec}
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/calendars?maxResults=10&pageToken=abc", nil)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("User-Agent", "bench")
			rawQuery := req.URL.RawQuery
			b.ReportAllocs()
			for b.Loop() {
				// What the proxy hands over: caller credentials already dropped.
				delete(req.Header, "Authorization")
				delete(req.Header, "X-Api-Key")
				req.URL.RawQuery = rawQuery
				p.Inject(req, tok)
			}
		})
	}
}

// Whatever query the caller sends, the provider sees one `key` parameter:
// the connection's, last.
func FuzzInjectQuery(f *testing.F) {
	for _, seed := range []string{"", "key=evil", "KEY=a&key=b", "%6Bey=x", "a=1;key=2", "k%65y=1&&", "%zz=1", "key", "+key=1", "a=%"} {
		f.Add(seed)
	}
	p := &providers.Provider{ID: "p", Spec: providers.Spec{Kind: providers.KindAPIKey, Inject: &providers.Inject{Type: providers.InjectQuery, Name: "key"}}}
	f.Fuzz(func(t *testing.T, raw string) {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/x", nil)
		req.URL.RawQuery = raw
		p.Inject(req, model.Token{APIKey: "the key"})
		segs := strings.Split(req.URL.RawQuery, "&")
		if segs[len(segs)-1] != "key=the+key" {
			t.Fatalf("last parameter of %q is not the credential", req.URL.RawQuery)
		}
		for _, seg := range segs[:len(segs)-1] {
			for _, part := range strings.Split(seg, ";") {
				k, _, _ := strings.Cut(part, "=")
				if dk, err := url.QueryUnescape(k); err != nil || strings.EqualFold(dk, "key") {
					t.Fatalf("caller parameter %q survived in %q", part, req.URL.RawQuery)
				}
			}
		}
	})
}
