package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers/providertest"
)

// rawSend writes raw to addr as is and reads one response. The deadline
// only guards against a hang.
func rawSend(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b)
}

// addProxyApp creates another app allowed to proxy and returns its secret.
func addProxyApp(t *testing.T, e *pxEnv) string {
	t.Helper()
	id := model.NewID(model.PrefixApp)
	secret, hash, err := secrets.NewAppSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.st.CreateApp(context.Background(), model.App{ID: id, Name: "other", Permissions: []model.Permission{model.PermProxy}, SecretHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// Request lines and credential headers a hostile caller sends to the whole
// broker: each is refused before the provider, or reaches it confined and
// carrying nothing of the caller's.
func TestProxyAttackRequests(t *testing.T) {
	e := newPxEnv(t)
	other := addProxyApp(t, e)
	addr := e.srv.Listener.Addr().String()
	key := "X-Api-Key: " + e.secret + "\r\n"
	basic := func(id, secret string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret)) + "\r\n"
	}
	otherID, _ := secrets.AppIDFromSecret(other)
	p := "/proxy/" + e.conn
	cases := []struct {
		name, raw string
		status    int
		path      string // what the provider saw; "" = not called
	}{
		{"absolute-form target to another host", "GET http://evil.example" + p + "/x HTTP/1.1\r\nHost: evil.example\r\n" + key, 200, "/api/x"},
		{"Host with userinfo", "GET " + p + "/x HTTP/1.1\r\nHost: user:pw@internal.svc\r\n" + key, 400, ""},
		{"CONNECT", "CONNECT " + p + "/x HTTP/1.1\r\nHost: a\r\n" + key, 404, ""},
		{"CONNECT authority-form", "CONNECT internal.svc:443 HTTP/1.1\r\nHost: internal.svc:443\r\n" + key, 404, ""},
		{"TRACE", "TRACE " + p + "/x HTTP/1.1\r\nHost: a\r\n" + key, 404, ""},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n" + key, 200, ""},
		// No slash after the connection: the broker's 404 envelope, never
		// Gin's trailing-slash redirect (so nothing X-Forwarded-Prefix says
		// can become a Location).
		{"no path, forged prefix", "GET " + p + " HTTP/1.1\r\nHost: a\r\nX-Forwarded-Prefix: //evil.example\\x\r\n" + key, 404, ""},
		{"no path after the connection", "GET " + p + " HTTP/1.1\r\nHost: a\r\n" + key, 404, ""},
		{"no path but a query", "GET " + p + "?x=1 HTTP/1.1\r\nHost: a\r\n" + key, 404, ""},
		{"connection id with an encoded slash", "GET /proxy/" + e.conn + "%2Fx/y HTTP/1.1\r\nHost: a\r\n" + key, 400, ""},
		{"lowercase credential header", "GET " + p + "/x HTTP/1.1\r\nHost: a\r\nx-api-key: " + e.secret + "\r\n", 200, "/api/x"},
		{"Connection names the credential", "GET " + p + "/x HTTP/1.1\r\nHost: a\r\nConnection: X-Api-Key, keep-alive\r\nTE: trailers\r\n" + key, 200, "/api/x"},
		{"credential hidden in a folded line", "GET " + p + "/x HTTP/1.1\r\nHost: a\r\nX-Note: a\r\n X-Api-Key: " + e.secret + "\r\n", 401, ""},
		{"two API keys", "GET " + p + "/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: " + other + "\r\n" + key, 401, ""},
		{"two Authorization headers", "GET " + p + "/x HTTP/1.1\r\nHost: a\r\n" + basic(otherID, other) + basic("x", e.secret), 401, ""},
		{"another app's connection", "GET " + p + "/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: " + other + "\r\n", 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.fake.APICalls()
			resp, body := rawSend(t, addr, tc.raw+"Connection: close\r\n\r\n")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if resp.StatusCode >= 300 && resp.StatusCode < 400 {
				if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
					t.Fatalf("redirect off the broker: %q", loc)
				}
			}
			if tc.path == "" {
				if n := e.fake.APICalls() - before; n != 0 {
					t.Fatalf("the provider was called %d times", n)
				}
				return
			}
			var echo providertest.Echo
			if err := json.Unmarshal([]byte(body), &echo); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if echo.Path != tc.path || echo.Host != strings.TrimPrefix(e.fake.URL, "http://") {
				t.Fatalf("provider saw %s %s, want its own host and %s", echo.Host, echo.Path, tc.path)
			}
			for name := range echo.Headers {
				if l := strings.ToLower(name); l == "x-api-key" || l == "te" || l == "connection" {
					t.Fatalf("the provider received %s", name)
				}
			}
		})
	}
	// A foreign connection looks exactly like a missing one, also once the
	// owner's request has put it in the token cache.
	_, own := e.do(t, "GET", p+"/x", "", "X-Api-Key", e.secret)
	_ = own
	_, foreign := e.do(t, "GET", p+"/x", "", "X-Api-Key", other)
	_, missing := e.do(t, "GET", "/proxy/con_aaaaaaaaaaaaaaaaaaaaaaaaaa/x", "", "X-Api-Key", other)
	if foreign != missing {
		t.Fatalf("a foreign connection answers %s, a missing one %s", foreign, missing)
	}
}

// Connections that may no longer be used: disconnected while cached, of a
// deleted app, or needing reauthorization. None reaches the provider.
func TestProxyAttackDeadConnections(t *testing.T) {
	e := newPxEnv(t)
	ctx := context.Background()
	p := "/proxy/" + e.conn + "/x"
	if resp, body := e.do(t, "GET", p, "", "X-Api-Key", e.secret); resp.StatusCode != 200 {
		t.Fatalf("warm-up: %d %s", resp.StatusCode, body)
	}

	// NEEDS_REAUTH: a second connection whose refresh fails for good.
	tok := e.fake.Mint("bob@example.com")
	tok.Expiry = time.Now().Add(-time.Hour)
	c, _, err := e.b.Tokens().Save(ctx, model.Connection{AppID: e.appID, ProviderID: "fake", ScheduleID: "s2",
		AccountID: e.fake.AccountID("bob@example.com"), ClientSource: model.ClientBroker}, tok)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.FailNextRefresh("invalid_grant")
	before, refreshes := e.fake.APICalls(), e.fake.RefreshCalls()
	for i := range 2 {
		resp, body := e.do(t, "GET", "/proxy/"+c.ID+"/x", "", "X-Api-Key", e.secret)
		if resp.StatusCode != 409 || resp.Header.Get("X-Broker-Error") != "needs_reauth" {
			t.Fatalf("call %d: %d %q %s", i, resp.StatusCode, resp.Header.Get("X-Broker-Error"), body)
		}
	}
	if e.fake.RefreshCalls()-refreshes != 1 || e.fake.APICalls() != before {
		t.Fatalf("%d refreshes, %d API calls after NEEDS_REAUTH", e.fake.RefreshCalls()-refreshes, e.fake.APICalls()-before)
	}

	// Disconnected while its token sits in the cache.
	if resp, body := e.do(t, "POST", "/v1/connections/"+e.conn+"/disconnect", "", "X-Api-Key", e.secret); resp.StatusCode != 200 {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, body)
	}
	resp, body := e.do(t, "GET", p, "", "X-Api-Key", e.secret)
	if resp.StatusCode != 409 || resp.Header.Get("X-Broker-Error") != "conflict" || e.fake.APICalls() != before {
		t.Fatalf("disconnected connection: %d %q %s", resp.StatusCode, resp.Header.Get("X-Broker-Error"), body)
	}

	// The app deleted: its secret stops working at once.
	resp, body = e.do(t, "DELETE", "/v1/apps/"+e.appID, "", "Authorization", "Bearer "+e.cfg.Security.AdminToken)
	if resp.StatusCode >= 300 {
		t.Fatalf("delete app: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", "/proxy/"+c.ID+"/x", "", "X-Api-Key", e.secret)
	if resp.StatusCode != 401 || e.fake.APICalls() != before {
		t.Fatalf("deleted app: %d %s", resp.StatusCode, body)
	}
}

// The server limits of docs/security.md §12 on the real listener: an oversized
// request head is refused, a head that never ends is cut, and a body over
// proxy.maxRequestBody never reaches the provider.
func TestProxyAttackServerLimits(t *testing.T) {
	e := newPxEnvWith(t, func(c *config.Config) {
		c.Server.MaxHeaderBytes = 8 << 10
		c.Server.ReadHeaderTimeout = config.Duration(200 * time.Millisecond)
		c.Proxy.MaxRequestBody = 4 << 10
		c.Proxy.RetryBodyLimit = 1 << 10
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.b.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()
	p := "/proxy/" + e.conn
	key := "X-Api-Key: " + e.secret + "\r\nConnection: close\r\n"

	t.Run("long path", func(t *testing.T) {
		resp, _ := rawSend(t, addr, "GET "+p+"/"+strings.Repeat("a", 64<<10)+" HTTP/1.1\r\nHost: a\r\n"+key+"\r\n")
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("large header", func(t *testing.T) {
		resp, _ := rawSend(t, addr, "GET "+p+"/x HTTP/1.1\r\nHost: a\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n"+key+"\r\n")
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("body over the limit", func(t *testing.T) {
		before := e.fake.APICalls()
		resp, body := rawSend(t, addr, "POST "+p+"/x HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n"+key+"\r\n"+strings.Repeat("a", 8192))
		if resp.StatusCode != 413 || resp.Header.Get("X-Broker-Error") != "payload_too_large" || e.fake.APICalls() != before {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("slow request head is cut", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "GET "+p+"/x HTTP/1.1\r\nHost: a\r\n")
		// Send nothing more; the server must hang up (hang guard only).
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server kept a connection whose request head never ended")
		}
	})
}
