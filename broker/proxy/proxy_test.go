package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

const (
	appID  = "app_1"
	connID = "con_1"
	token  = "at_connection_token"
)

type env struct {
	up    *echoUpstream
	creds *fakeCreds
	p     *Proxy
	front *httptest.Server
}

func newEnv(t testing.TB, o Options) *env {
	e := &env{up: newUpstream(t), creds: newFakeCreds()}
	e.creds.add(appID, connID, e.up.provider("fake", providers.KindOAuth2, providers.Inject{Type: providers.InjectBearer}, nil),
		model.Token{AccessToken: token})
	o.Creds = e.creds
	e.p = mustNew(t, o)
	e.front = front(t, e.p, appID)
	return e
}

// Every hostile example of docs/security.md §8 and §9 reaches nothing but the upstream
// under its base path: refused by the broker, or confined.
func TestSecurityPathExamples(t *testing.T) {
	e := newEnv(t, Options{})
	evil := newUpstream(t) // a second origin that must never be reached
	cases := []struct {
		target string
		refuse bool
		path   string // upstream path when passed
	}{
		{"/proxy/con_1/../../admin", true, ""},
		{"/proxy/con_1/%2e%2e/%2e%2e/admin", true, ""},
		{"/proxy/con_1/v3/..%2F..%2Fadmin", true, ""},
		{"/proxy/con_1//evil.com/x", true, ""},
		{"/proxy/con_1//" + strings.TrimPrefix(evil.URL, "http://") + "/x", true, ""},
		{"/proxy/con_1/x%00y", true, ""},
		{"/proxy/con_1/x%5c..%5cadmin", true, ""},
		{"/proxy/con_1/.%2e/admin", true, ""},
		{"/proxy/con_1/@evil.com/x", false, basePath + "/@evil.com/x"},
		{"/proxy/con_1/calendars/primary/events", false, basePath + "/calendars/primary/events"},
		{"/proxy/con_1/%252e%252e/admin", false, basePath + "/%252e%252e/admin"},
		{"/proxy/con_1/" + evil.URL + "/x", true, ""}, // "http:" then an empty segment
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			before := len(e.up.requests())
			resp, body := rawDo(t, e.front, "GET", tc.target)
			reqs := e.up.requests()[before:]
			if tc.refuse {
				wantBrokerError(t, resp, body, model.CodeInvalidArgument)
				if len(reqs) != 0 {
					t.Fatalf("refused path still reached the upstream: %+v", reqs)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || len(reqs) != 1 {
				t.Fatalf("status %d, %d upstream requests: %s", resp.StatusCode, len(reqs), body)
			}
			if reqs[0].EscapedPath != tc.path {
				t.Fatalf("upstream path %q, want %q", reqs[0].EscapedPath, tc.path)
			}
		})
	}
	for _, r := range e.up.requests() {
		if !strings.HasPrefix(r.EscapedPath, basePath+"/") {
			t.Errorf("upstream received %q, outside %s", r.EscapedPath, basePath)
		}
	}
	if n := len(evil.requests()); n != 0 {
		t.Fatalf("the other origin received %d requests", n)
	}
}

// The upstream sees exactly one credential, the connection's, and learns
// nothing about the caller.
func TestSecurityHeaderExamples(t *testing.T) {
	e := newEnv(t, Options{})
	resp, body := rawDo(t, e.front, "GET", "/proxy/con_1/me",
		"Authorization: Basic YXBwXzE6YXBwLXNlY3JldA==",
		"X-Api-Key: app-secret",
		"Proxy-Authorization: Basic eDp5",
		"Cookie: broker_session=1",
		"Connection: Authorization, X-Hidden",
		"X-Hidden: 1",
		"X_Forwarded_For: 127.0.0.1",
		"X-Forwarded-For: 10.0.0.1",
		"X-Forwarded-Host: internal.svc",
		"x-forwarded-proto: http",
		"Forwarded: for=127.0.0.1",
		"X-Real-Ip: 127.0.0.1",
		"Upgrade: websocket",
		"Accept: application/json",
		"Prefer: outlook.timezone=\"UTC\"",
	)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)
	if got := s.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+token {
		t.Fatalf("upstream Authorization = %q, want only the connection's bearer token", got)
	}
	upHost := strings.TrimPrefix(e.up.URL, "http://")
	if s.Host != upHost {
		t.Fatalf("upstream Host = %q, want %q", s.Host, upHost)
	}
	for name := range s.Header {
		l := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		switch {
		case strings.HasPrefix(l, "x-forwarded-"), l == "forwarded", l == "x-real-ip", l == "x-api-key",
			l == "cookie", l == "proxy-authorization", l == "upgrade", l == "x-hidden":
			t.Errorf("upstream received %s: %q", name, s.Header[name])
		}
	}
	if s.Header.Get("Accept") != "application/json" || s.Header.Get("Prefer") == "" {
		t.Fatalf("ordinary headers were lost: %v", s.Header)
	}
	// Host: internal.svc sent by the caller changes nothing either.
	resp, body = rawDo(t, e.front, "GET", "/proxy/con_1/me", "X-Ignored: 1")
	_ = resp
	if s := decodeSeen(t, body); s.Host != upHost {
		t.Fatalf("upstream Host = %q", s.Host)
	}
}

func TestCallerHostIgnored(t *testing.T) {
	e := newEnv(t, Options{})
	req, _ := http.NewRequest("GET", e.front.URL+"/proxy/con_1/me", nil)
	req.Host = "internal.svc"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reqs := e.up.requests()
	if len(reqs) != 1 || reqs[0].Host != strings.TrimPrefix(e.up.URL, "http://") {
		t.Fatalf("upstream saw %+v", reqs)
	}
}

func TestResponseHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		h := w.Header()
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; Path=/")
		h.Set("X-Broker-Error", "forged")
		h.Set("Connection", "X-Private")
		h.Set("X-Private", "1")
		h.Set("Etag", `"v1"`)
		if r.URL.Path == basePath+"/redirect" {
			http.Redirect(w, r, "https://elsewhere.example/landing", http.StatusFound)
			return true
		}
		w.WriteHeader(http.StatusOK)
		return true
	}
	resp, _ := rawDo(t, e.front, "GET", "/proxy/con_1/x")
	if len(resp.Header.Values("Set-Cookie")) != 0 || resp.Header.Get("X-Broker-Error") != "" || resp.Header.Get("X-Private") != "" {
		t.Fatalf("forbidden response headers came back: %v", resp.Header)
	}
	if resp.Header.Get("Etag") != `"v1"` {
		t.Fatalf("Etag lost: %v", resp.Header)
	}
	resp, _ = rawDo(t, e.front, "GET", "/proxy/con_1/redirect")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://elsewhere.example/landing" {
		t.Fatalf("redirect not passed back as is: %d %v", resp.StatusCode, resp.Header)
	}
	if n := len(e.up.requests()); n != 2 {
		t.Fatalf("%d upstream requests, want 2 (redirect not followed)", n)
	}
}

func TestMethodsAndBodies(t *testing.T) {
	e := newEnv(t, Options{})
	body := `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PROPPATCH",
		"REPORT", "MKCALENDAR", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "ACL"} {
		t.Run(m, func(t *testing.T) {
			req, _ := http.NewRequest(m, e.front.URL+"/proxy/con_1/calendars/user/cal/", strings.NewReader(body))
			req.Header.Set("Depth", "1")
			req.Header.Set("Content-Type", "application/xml")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			reqs := e.up.requests()
			s := reqs[len(reqs)-1]
			if resp.StatusCode != http.StatusOK || s.Method != m || s.BodyLen != int64(len(body)) ||
				s.Header.Get("Depth") != "1" || s.EscapedPath != basePath+"/calendars/user/cal/" {
				t.Fatalf("status %d, upstream saw %s %s body %d depth %q", resp.StatusCode, s.Method, s.EscapedPath, s.BodyLen, s.Header.Get("Depth"))
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		resp, err := http.Head(e.front.URL + "/proxy/con_1/x")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

func TestQueryPassesUnchanged(t *testing.T) {
	e := newEnv(t, Options{})
	q := "timeMin=2024-01-01T00%3A00%3A00Z&q=a+b&x=2&x=1&%24filter=start%2FdateTime+ge+%272024%27&empty="
	resp, body := rawDo(t, e.front, "GET", "/proxy/con_1/events?"+q)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if s := decodeSeen(t, body); s.RawQuery != q {
		t.Fatalf("upstream query %q, want %q", s.RawQuery, q)
	}
}

func TestInjection(t *testing.T) {
	up := newUpstream(t)
	creds := newFakeCreds()
	creds.add(appID, "bearer", up.provider("g", providers.KindOAuth2, providers.Inject{Type: providers.InjectBearer}, nil),
		model.Token{AccessToken: "at_1"})
	creds.add(appID, "header", up.provider("k", providers.KindAPIKey, providers.Inject{Type: providers.InjectHeader, Name: "X-Cal-Key"}, nil),
		model.Token{APIKey: "key_1"})
	creds.add(appID, "query", up.provider("q", providers.KindAPIKey, providers.Inject{Type: providers.InjectQuery, Name: "api_key"}, nil),
		model.Token{APIKey: "key_2"})
	creds.add(appID, "basic", up.provider("dav", providers.KindBasic, providers.Inject{Type: providers.InjectBasic}, nil),
		model.Token{Username: "alice", Password: "pw"})
	creds.add(appID, "calcom", up.provider("cal", providers.KindOAuth2, providers.Inject{Type: providers.InjectBearer},
		map[string]string{"cal-api-version": "2024-08-13"}), model.Token{AccessToken: "at_cal"})
	fr := front(t, mustNew(t, Options{Creds: creds}), appID)

	check := func(name string, want func(s seen) error, target string, headers ...string) {
		t.Run(name, func(t *testing.T) {
			resp, body := rawDo(t, fr, "GET", target, headers...)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if err := want(decodeSeen(t, body)); err != nil {
				t.Fatal(err)
			}
		})
	}
	only := func(h http.Header, name, value string) error {
		if got := h.Values(name); len(got) != 1 || got[0] != value {
			return fmt.Errorf("%s = %q, want exactly %q", name, got, value)
		}
		return nil
	}
	check("bearer", func(s seen) error { return only(s.Header, "Authorization", "Bearer at_1") },
		"/proxy/bearer/x", "Authorization: Bearer caller")
	check("header", func(s seen) error {
		if s.Header.Get("Authorization") != "" {
			return fmt.Errorf("unexpected Authorization")
		}
		return only(s.Header, "X-Cal-Key", "key_1")
	}, "/proxy/header/x", "X-Cal-Key: callers-key", "X_Cal_Key: callers-key-2", "Authorization: Basic eDp5")
	check("query", func(s seen) error {
		if s.RawQuery != "a=1&api_key=key_2" && s.RawQuery != "api_key=key_2&a=1" {
			return fmt.Errorf("query %q, want the caller's a=1 and only the injected key", s.RawQuery)
		}
		return nil
	}, "/proxy/query/x?a=1&api_key=callers")
	check("basic", func(s seen) error { return only(s.Header, "Authorization", "Basic YWxpY2U6cHc=") },
		"/proxy/basic/x", "Authorization: Bearer caller")
	check("static headers", func(s seen) error {
		if err := only(s.Header, "Authorization", "Bearer at_cal"); err != nil {
			return err
		}
		return only(s.Header, "Cal-Api-Version", "2024-08-13")
	}, "/proxy/calcom/x", "cal-api-version: 1999-01-01", "Cal_Api_Version: 1999-01-01")
}

// What the upstream answers reaches the caller unchanged; what the broker
// answers carries X-Broker-Error.
func TestUpstreamAnswersPassThrough(t *testing.T) {
	e := newEnv(t, Options{})
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		var code int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, basePath+"/status/"), "%d", &code)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"from upstream"}}`, code)
		return true
	}
	for _, code := range []int{400, 403, 404, 409, 429, 500, 502, 503} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			resp, body := rawDo(t, e.front, "GET", fmt.Sprintf("/proxy/con_1/status/%d", code))
			if resp.StatusCode != code || resp.Header.Get(HeaderBrokerError) != "" ||
				body != fmt.Sprintf(`{"error":{"code":%d,"message":"from upstream"}}`, code) {
				t.Fatalf("got %d %q %s", resp.StatusCode, resp.Header.Get(HeaderBrokerError), body)
			}
		})
	}
}

func TestBrokerErrors(t *testing.T) {
	e := newEnv(t, Options{Timeout: 300 * time.Millisecond, MaxRequestBody: 1 << 10})
	e.creds.add("app_other", "con_foreign", e.creds.conns[connID].Provider, model.Token{AccessToken: "x"})
	e.creds.add(appID, "con_reauth", e.creds.conns[connID].Provider, model.Token{AccessToken: "x"})
	e.creds.errs["con_reauth"] = fmt.Errorf("tokens: %w", model.ErrNeedsReauth)
	e.creds.add(appID, "con_tokfail", e.creds.conns[connID].Provider, model.Token{AccessToken: "x"})
	e.creds.errs["con_tokfail"] = fmt.Errorf("tokens: refresh: %w", model.ErrUpstreamUnavailable)
	dead := newUpstream(t)
	dead.Close()
	e.creds.add(appID, "con_dead", dead.provider("dead", providers.KindOAuth2, providers.Inject{Type: providers.InjectBearer}, nil),
		model.Token{AccessToken: "x"})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		if r.URL.Path != basePath+"/slow" {
			return false
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return true
	}
	cases := []struct {
		name, method, target string
		headers              []string
		body                 string
		code                 model.Code
	}{
		{"missing connection", "GET", "/proxy/con_nope/x", nil, "", model.CodeNotFound},
		{"foreign connection", "GET", "/proxy/con_foreign/x", nil, "", model.CodeNotFound},
		{"needs reauth", "GET", "/proxy/con_reauth/x", nil, "", model.CodeNeedsReauth},
		{"token endpoint down", "GET", "/proxy/con_tokfail/x", nil, "", model.CodeUpstreamUnavailable},
		{"upstream unreachable", "GET", "/proxy/con_dead/x", nil, "", model.CodeUpstreamUnavailable},
		{"upstream timeout", "GET", "/proxy/con_1/slow", nil, "", model.CodeUpstreamTimeout},
		{"declared body too large", "POST", "/proxy/con_1/x", []string{"Content-Length: 2048"}, strings.Repeat("a", 2048), model.CodePayloadTooLarge},
		{"chunked body too large", "POST", "/proxy/con_1/x", []string{"Transfer-Encoding: chunked"}, chunked(strings.Repeat("a", 4096)), model.CodePayloadTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.requests())
			resp, body := rawDoBody(t, e.front, tc.method, tc.target, tc.body, tc.headers...)
			wantBrokerError(t, resp, body, tc.code)
			if tc.code == model.CodeNotFound || tc.code == model.CodeNeedsReauth {
				if n := len(e.up.requests()) - before; n != 0 {
					t.Fatalf("%d upstream requests", n)
				}
			}
		})
	}
}

func chunked(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(len(s), 1000)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, s[:n])
		s = s[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}
