package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/providertest"
)

// BenchmarkRewrite is the proxy's own per-request work on the outbound
// request: path building, header filtering and injection.
func BenchmarkRewrite(b *testing.B) {
	prov := &providers.Provider{ID: "g", Spec: providers.Spec{Kind: providers.KindOAuth2,
		APIBaseURL: "https://www.googleapis.com/calendar/v3", Inject: &providers.Inject{Type: providers.InjectBearer}}}
	p := mustNew(b, Options{Creds: newFakeCreds(), Logger: quiet()})
	up := p.upstream(prov)
	cred := &tokens.Credential{ConnectionID: "con_1", AppID: "app_1", Provider: prov, Token: model.Token{AccessToken: "ya29.a0AfH6SMBx"}}
	in := httptest.NewRequest("GET", "/proxy/con_1/calendars/primary/events?maxResults=10&singleEvents=true", nil)
	in.Header = http.Header{"Accept": {"application/json"}, "User-Agent": {"bench"}, "Accept-Encoding": {"gzip"}}
	c := &call{cred: cred, up: up}
	p.sweep.begin(c, context.Background())
	defer p.sweep.finish(c)
	in = in.WithContext(c)
	outURL := *in.URL
	out := &http.Request{Method: "GET", URL: &outURL, Header: http.Header{}}
	pr := &httputil.ProxyRequest{In: in, Out: out}
	auth, key, xff, accept := []string{"Basic YXBwOnNlY3JldA=="}, []string{"secret"}, []string{"1.2.3.4"}, []string{"application/json"}
	b.ReportAllocs()
	for b.Loop() {
		h := out.Header
		h["Authorization"], h["X-Api-Key"], h["X-Forwarded-For"], h["Accept"] = auth, key, xff, accept
		suffix, _ := suffixAfter(in.URL.EscapedPath(), "con_1")
		var err error
		if c.path, c.rawPath, err = buildPath(up.base, suffix); err != nil {
			b.Fatal(err)
		}
		p.rewrite(pr)
	}
	if out.Header.Get("Authorization") != "Bearer ya29.a0AfH6SMBx" || out.Header.Get("X-Api-Key") != "" {
		b.Fatalf("rewrite result %v", out.Header)
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmarks
// measure the proxy, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

func tinyUpstream(b *testing.B) *httptest.Server {
	body := []byte(`{"kind":"calendar#events","items":[]}`)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(s.Close)
	return s
}

// BenchmarkServeProxyCacheHit goes through the whole handler, with the real
// token manager on SQLite answering from its cache, to a local upstream.
func BenchmarkServeProxyCacheHit(b *testing.B) {
	e := newRealEnvAPI(b, providertest.Options{TokenLifetime: 24 * time.Hour}, tinyUpstream(b).URL+"/calendar/v3")
	p := mustNew(b, Options{Creds: e.m, Logger: quiet()})
	req := httptest.NewRequest("GET", "/proxy/"+e.conn.ID+"/calendars/primary/events?maxResults=10", nil)
	req.Header.Set("X-Api-Key", "app-secret")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		p.ServeProxy(w, req, e.appID, e.conn.ID)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkBareReverseProxy is the reference: a default ReverseProxy
// setting a fixed header, to the same kind of upstream.
func BenchmarkBareReverseProxy(b *testing.B) {
	up := tinyUpstream(b)
	target, _ := url.Parse(up.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Header.Set("Authorization", "Bearer fixed")
	}}
	req := httptest.NewRequest("GET", "/calendars/primary/events?maxResults=10", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		rp.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}
