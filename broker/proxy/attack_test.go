package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// Paths a hostile caller sends beyond the examples of docs/security.md §8: each is refused,
// or reaches the provider confined under its base path.
func TestAttackPaths(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		name, target string
		path         string // upstream escaped path; "" = refused with invalid_argument
	}{
		{"double-encoded dots stay a literal name", "/proxy/con_1/%252e%252e/admin", basePath + "/%252e%252e/admin"},
		{"double-encoded slash stays a literal name", "/proxy/con_1/a%252fb", basePath + "/a%252fb"},
		{"encoded backslash", "/proxy/con_1/a%5c..%5cadmin", ""},
		{"raw backslash", "/proxy/con_1/..\\admin", ""},
		{"dotdot path parameter", "/proxy/con_1/..;/admin", ""},
		{"dotdot encoded semicolon", "/proxy/con_1/%2e%2e%3bx/admin", ""},
		{"dot path parameter", "/proxy/con_1/.;x/admin", ""},
		{"ending in dotdot", "/proxy/con_1/a/..", ""},
		{"ending in dot", "/proxy/con_1/a/.", ""},
		{"overlong UTF-8 dots", "/proxy/con_1/%c0%ae%c0%ae/admin", ""},
		{"three-byte overlong dot", "/proxy/con_1/%e0%80%ae%e0%80%ae/admin", ""},
		{"overlong UTF-8 slash", "/proxy/con_1/a%c0%afb", ""},
		{"lone continuation byte", "/proxy/con_1/a%aeb", ""},
		{"fullwidth dots U+FF0E", "/proxy/con_1/%ef%bc%8e%ef%bc%8e/admin", ""},
		{"one dot leaders U+2024", "/proxy/con_1/%e2%80%a4%e2%80%a4/admin", ""},
		{"two dot leader U+2025", "/proxy/con_1/%e2%80%a5/admin", ""},
		{"small full stops U+FE52", "/proxy/con_1/%ef%b9%92%ef%b9%92/admin", ""},
		{"fullwidth solidus U+FF0F", "/proxy/con_1/a%ef%bc%8fb", ""},
		{"fullwidth reverse solidus U+FF3C", "/proxy/con_1/a%ef%bc%bcb", ""},
		{"fullwidth dotdot with fullwidth semicolon", "/proxy/con_1/%ef%bc%8e%ef%bc%8e%ef%bc%9bx/admin", ""},
		{"accented name passes", "/proxy/con_1/%C3%A9t%C3%A9", basePath + "/%C3%A9t%C3%A9"},
		{"CJK name passes", "/proxy/con_1/%E6%97%A5%E6%9C%AC", basePath + "/%E6%97%A5%E6%9C%AC"},
		{"fullwidth letters pass", "/proxy/con_1/%EF%BD%83%EF%BD%81%EF%BD%8C", basePath + "/%EF%BD%83%EF%BD%81%EF%BD%8C"},
		{"a single fullwidth dot inside a name passes", "/proxy/con_1/a%EF%BC%8Eb", basePath + "/a%EF%BC%8Eb"},
		{"no path after the connection", "/proxy/con_1", basePath + "/"},
		{"no path but a query", "/proxy/con_1?x=1", basePath + "/"},
		{"long path stays confined", "/proxy/con_1/" + strings.Repeat("a/", 4000) + "b", basePath + "/" + strings.Repeat("a/", 4000) + "b"},
		{"absolute-form target", "http://evil.example/proxy/con_1/x", basePath + "/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.requests())
			resp, body := rawDo(t, e.front, "GET", tc.target)
			reqs := e.up.requests()[before:]
			if tc.path == "" {
				wantBrokerError(t, resp, body, model.CodeInvalidArgument)
				if len(reqs) != 0 {
					t.Fatalf("refused path reached the upstream: %+v", reqs)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || len(reqs) != 1 {
				t.Fatalf("status %d, %d upstream requests: %s", resp.StatusCode, len(reqs), body)
			}
			if reqs[0].EscapedPath != tc.path || reqs[0].Host != strings.TrimPrefix(e.up.URL, "http://") {
				t.Fatalf("upstream got %s %q, want %q", reqs[0].Host, reqs[0].EscapedPath, tc.path)
			}
		})
	}
}

// A caller's own copy of the query parameter that carries the credential is
// replaced however it is spelled, so the provider sees exactly one.
func TestAttackQueryCredential(t *testing.T) {
	up := newUpstream(t)
	creds := newFakeCreds()
	creds.add(appID, "q", up.provider("q", providers.KindAPIKey, providers.Inject{Type: providers.InjectQuery, Name: "api_key"}, nil),
		model.Token{APIKey: "the-connections-key"})
	fr := front(t, mustNew(t, Options{Creds: creds}), appID)
	for _, q := range []string{
		"api_key=mine", "API_KEY=mine", "Api_Key=1&api_key=2", "api%5Fkey=mine", "api%5fKEY=mine",
		"api_key", "api_key=", "a=1;api_key=mine", "api_key=a&api_key=b&x=1", "x=1&api+key=keep",
	} {
		t.Run(q, func(t *testing.T) {
			resp, body := rawDo(t, fr, "GET", "/proxy/q/events?"+q)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			raw := decodeSeen(t, body).RawQuery
			var got []string
			for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
				k, v, _ := strings.Cut(part, "=")
				k, _ = url.QueryUnescape(k)
				if strings.EqualFold(k, "api_key") {
					got = append(got, v)
				}
			}
			if len(got) != 1 || got[0] != "the-connections-key" {
				t.Fatalf("upstream query %q carries api_key %q, want only the connection's", raw, got)
			}
		})
	}
}

// An upstream's Set-Cookie (or forged X-Broker-Error) sent as a trailer,
// declared or not, never reaches the caller; ordinary trailers do.
func TestAttackResponseTrailers(t *testing.T) {
	e := newEnv(t, Options{})
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		h := w.Header()
		h.Set("Trailer", "Set-Cookie, X-Checksum, X-Broker-Error")
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		h.Set("Set-Cookie", "declared=1; Path=/")
		h.Set("X-Broker-Error", "forged")
		h.Set("X-Checksum", "abc")
		h.Set(http.TrailerPrefix+"Set-Cookie", "undeclared=1; Path=/")
		h.Set(http.TrailerPrefix+"Set-Cookie2", "undeclared2=1")
		return true
	}
	resp, err := http.Get(e.front.URL + "/proxy/con_1/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "body" {
		t.Fatalf("status %d body %q", resp.StatusCode, b)
	}
	for _, name := range []string{"Set-Cookie", "Set-Cookie2", "X-Broker-Error"} {
		if v := resp.Trailer.Values(name); len(v) != 0 {
			t.Errorf("trailer %s = %q reached the caller", name, v)
		}
		if v := resp.Header.Values(name); len(v) != 0 {
			t.Errorf("header %s = %q reached the caller", name, v)
		}
	}
	if resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("an ordinary trailer was lost: %v", resp.Trailer)
	}
}

// switchingUpstream answers every request with 101, whatever was asked.
func switchingUpstream(t *testing.T, e *env) {
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return true
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw tunnel bytes")
		_ = brw.Flush()
		return true
	}
}

// No protocol switch passes the proxy: the caller's Upgrade never reaches
// the provider, and a provider that switches anyway gets the caller a 502,
// never a tunnel.
func TestAttackUpgrade(t *testing.T) {
	e := newEnv(t, Options{})
	resp, body := rawDo(t, e.front, "GET", "/proxy/con_1/ws", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if s := decodeSeen(t, body); s.Header.Get("Upgrade") != "" || s.Header.Get("Connection") != "" {
		t.Fatalf("the provider was asked to switch protocols: %v", s.Header)
	}
	switchingUpstream(t, e)
	for _, hdrs := range [][]string{
		{"Connection: Upgrade", "Upgrade: websocket"},
		nil,
	} {
		resp, body := rawDo(t, e.front, "GET", "/proxy/con_1/ws", hdrs...)
		if resp.StatusCode == http.StatusSwitchingProtocols || strings.Contains(body, "raw tunnel") {
			t.Fatalf("a protocol switch reached the caller: %d %q", resp.StatusCode, body)
		}
		wantBrokerError(t, resp, body, model.CodeUpstreamUnavailable)
	}
}

// Request framing the server must refuse, or settle before the proxy sees
// it: the provider receives one request framed by the broker, never the
// caller's conflicting headers.
func TestAttackRequestFraming(t *testing.T) {
	e := newEnv(t, Options{})
	smuggled := "GET /proxy/con_1/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name    string
		headers []string
		body    string
		bodyLen int64 // what the provider must see when it is called (0: refused)
	}{
		{"chunked with Content-Length", []string{"Transfer-Encoding: chunked", "Content-Length: 4"}, "5\r\nhello\r\n0\r\n\r\n" + smuggled, 5},
		{"two different lengths", []string{"Content-Length: 5", "Content-Length: 6"}, "hello!", 0},
		{"unknown transfer coding", []string{"Transfer-Encoding: xchunked"}, "5\r\nhello\r\n0\r\n\r\n", 0},
		{"chunked then identity", []string{"Transfer-Encoding: chunked, identity"}, "5\r\nhello\r\n0\r\n\r\n", 0},
		{"chunked twice", []string{"Transfer-Encoding: chunked", "Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\n\r\n", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.requests())
			resp, body := rawDoBody(t, e.front, "POST", "/proxy/con_1/x", tc.body, tc.headers...)
			reqs := e.up.requests()[before:]
			for _, r := range reqs {
				if strings.HasSuffix(r.EscapedPath, "/smuggled") {
					t.Fatalf("a smuggled request reached the provider")
				}
			}
			if resp.StatusCode == http.StatusOK {
				if len(reqs) != 1 || reqs[0].BodyLen != tc.bodyLen || tc.bodyLen == 0 {
					t.Fatalf("provider saw %+v, want one request of %d body bytes", reqs, tc.bodyLen)
				}
				return
			}
			// 400, or 501 for a transfer coding the server does not know.
			if (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotImplemented) || len(reqs) != 0 {
				t.Fatalf("status %d, %d upstream requests: %s", resp.StatusCode, len(reqs), body)
			}
		})
	}
}

// A declared body over the limit with Expect: 100-continue is refused
// before a byte of it is asked for; the provider is never called.
func TestAttackExpectContinueTooLarge(t *testing.T) {
	e := newEnv(t, Options{MaxRequestBody: 1 << 10})
	conn, err := net.Dial("tcp", e.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Only a hang guard: the answer must come without the body being sent.
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "PUT /proxy/con_1/x HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", 1<<30)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer without the body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantBrokerError(t, resp, string(b), model.CodePayloadTooLarge)
	if n := len(e.up.requests()); n != 0 {
		t.Fatalf("%d upstream requests", n)
	}
}

// A 401 is retried with a body of exactly RetryBodyLimit bytes, declared or
// chunked, and not with one byte more, which still reaches the provider
// whole.
func TestAttackRetryBodyBoundary(t *testing.T) {
	const limit = 1024
	for _, tc := range []struct {
		size    int
		chunked bool
		retried bool
	}{{limit, false, true}, {limit, true, true}, {limit + 1, false, false}, {limit + 1, true, false}} {
		t.Run(fmt.Sprintf("%d chunked=%v", tc.size, tc.chunked), func(t *testing.T) {
			up := newUpstream(t)
			var bodies []int64
			up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
				n, _ := io.Copy(io.Discard, r.Body)
				bodies = append(bodies, n)
				if r.Header.Get("Authorization") != "Bearer fresh" {
					w.WriteHeader(http.StatusUnauthorized)
					return true
				}
				return true
			}
			creds := newFakeCreds()
			creds.add(appID, connID, up.provider("p", providers.KindOAuth2, providers.Inject{Type: providers.InjectBearer}, nil), model.Token{AccessToken: "stale"})
			creds.next = []string{"fresh"}
			fr := front(t, mustNew(t, Options{Creds: creds, RetryBodyLimit: limit, MaxRequestBody: 4 * limit}), appID)
			body, hdr := strings.Repeat("b", tc.size), fmt.Sprintf("Content-Length: %d", tc.size)
			if tc.chunked {
				body, hdr = chunked(body), "Transfer-Encoding: chunked"
			}
			resp, got := rawDoBody(t, fr, "POST", "/proxy/con_1/x", body, hdr)
			want, calls := http.StatusUnauthorized, 1
			if tc.retried {
				want, calls = http.StatusOK, 2
			}
			if resp.StatusCode != want || len(bodies) != calls {
				t.Fatalf("status %d after %d provider calls, want %d after %d: %s", resp.StatusCode, len(bodies), want, calls, got)
			}
			for i, n := range bodies {
				if n != int64(tc.size) {
					t.Fatalf("provider call %d carried %d body bytes, want %d", i, n, tc.size)
				}
			}
		})
	}
}
