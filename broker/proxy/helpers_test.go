package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// mustNew is New with broker.yaml's defaults (config.Default) under the
// fields o sets, so a test names only what it is about (RetryBodyLimit -1
// for no buffering). A test of a zero value calls New itself.
func mustNew(t testing.TB, o Options) *Proxy {
	t.Helper()
	d := config.Default().Proxy
	if o.Timeout == 0 {
		o.Timeout = d.Timeout.D()
	}
	if o.ResponseHeaderTimeout == 0 {
		o.ResponseHeaderTimeout = d.ResponseHeaderTimeout.D()
	}
	if o.MaxRequestBody == 0 {
		o.MaxRequestBody = int64(d.MaxRequestBody)
	}
	switch {
	case o.RetryBodyLimit < 0: // asks for none: 0, which here means the default
		o.RetryBodyLimit = 0
	case o.RetryBodyLimit == 0:
		o.RetryBodyLimit = int64(d.RetryBodyLimit)
	}
	if o.MaxResponseHeaderBytes == 0 {
		o.MaxResponseHeaderBytes = int64(d.MaxResponseHeaderBytes)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeCreds stands in for the token manager in the proxy's unit tests (the
// real tokens.Manager on SQLite is used in manager_test.go): connections by
// id, each owned by one app, and a refresh that hands out the next token.
type fakeCreds struct {
	mu        sync.Mutex
	conns     map[string]*tokens.Credential
	errs      map[string]error
	next      []string // access tokens ForceRefresh hands out, in order
	refreshes int
}

func newFakeCreds() *fakeCreds {
	return &fakeCreds{conns: map[string]*tokens.Credential{}, errs: map[string]error{}}
}

func (f *fakeCreds) add(appID, connID string, p *providers.Provider, tok model.Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns[connID] = &tokens.Credential{ConnectionID: connID, AppID: appID, Provider: p, Status: model.StatusConnected, Token: tok}
}

func (f *fakeCreds) Get(_ context.Context, appID, connID string) (*tokens.Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[connID]; err != nil {
		return nil, err
	}
	c, ok := f.conns[connID]
	if !ok || c.AppID != appID {
		return nil, fmt.Errorf("fake: %w", model.ErrNotFound)
	}
	return c, nil
}

func (f *fakeCreds) ForceRefresh(_ context.Context, appID, connID, stale string) (*tokens.Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.conns[connID]
	if !ok || c.AppID != appID {
		return nil, fmt.Errorf("fake: %w", model.ErrNotFound)
	}
	if c.Token.AccessToken != stale {
		return c, nil
	}
	if len(f.next) == 0 {
		return nil, fmt.Errorf("fake: %w", model.ErrNeedsReauth)
	}
	f.refreshes++
	n := *c
	n.Token.AccessToken, f.next = f.next[0], f.next[1:]
	f.conns[connID] = &n
	return &n, nil
}

func (f *fakeCreds) refreshCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes
}

// seen is one request as the upstream received it.
type seen struct {
	Method, EscapedPath, RawQuery, Host string
	Header                              http.Header
	BodyLen                             int64
}

// echoUpstream is an echo API that records every request it receives. Under
// its base path /base/v1 it answers 200 with the echo, unless handler is
// set; anywhere else it records the request as an escape.
type echoUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []seen
	handler func(w http.ResponseWriter, r *http.Request, s seen) bool // true: handled
}

const basePath = "/base/v1"

func newUpstream(t testing.TB) *echoUpstream {
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Method: r.Method, EscapedPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone()}
		if u.handler != nil && u.handler(w, r, s) {
			u.record(s)
			return
		}
		s.BodyLen, _ = io.Copy(io.Discard, r.Body)
		u.record(s)
		w.Header().Set("Set-Cookie", "sess=upstream; Path=/")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) record(s seen) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = append(u.reqs, s)
}

func (u *echoUpstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

// provider returns a resolved provider whose API base is the upstream's
// /base/v1.
func (u *echoUpstream) provider(id string, kind providers.Kind, inj providers.Inject, headers map[string]string) *providers.Provider {
	return &providers.Provider{ID: id, Spec: providers.Spec{
		Kind: kind, APIBaseURL: u.URL + basePath, Inject: &inj, Headers: headers, AllowHeaders: []string{"Prefer"},
	}}
}

// front serves the proxy as broker/api does, with a fixed app: the
// connection id is the segment after /proxy/.
func front(t testing.TB, p *Proxy, appID string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/proxy/")
		conn, _, _ := strings.Cut(rest, "/")
		p.ServeProxy(w, r, appID, conn)
	}))
	t.Cleanup(s.Close)
	return s
}

// rawDo sends a request line and headers exactly as given, so nothing
// cleans or re-encodes the path on the way.
func rawDo(t testing.TB, srv *httptest.Server, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	return rawDoBody(t, srv, method, target, "", headers...)
}

// rawDoBody is rawDo with a body written as is (framing is the caller's).
func rawDoBody(t testing.TB, srv *httptest.Server, method, target, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, srv.Listener.Addr())
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(got)
}

func decodeSeen(t testing.TB, body string) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("upstream echo: %v: %s", err, body)
	}
	return s
}

// wantBrokerError checks a response the broker made itself.
func wantBrokerError(t testing.TB, resp *http.Response, body string, code model.Code) {
	t.Helper()
	if got := resp.Header.Get(HeaderBrokerError); got != string(code) {
		t.Fatalf("X-Broker-Error = %q, want %q (status %d, body %s)", got, code, resp.StatusCode, body)
	}
	if resp.StatusCode != model.HTTPStatus(code) {
		t.Fatalf("status %d, want %d", resp.StatusCode, model.HTTPStatus(code))
	}
	var env model.ErrorBody
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code != code {
		t.Fatalf("body %q is not the %s envelope", body, code)
	}
}
