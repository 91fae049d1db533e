package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"testing"
)

// A provider's interim answers reach the caller without any of the
// provider's headers (a cookie would be set on the broker's origin, an
// X-Broker-Error would forge the broker's own verdict), and the headers the
// caller's stack set before forwarding (X-Request-Id) survive onto the
// final answer, which ReverseProxy would otherwise clear after a 1xx
// (docs/security.md §10). Served with net/http directly, as an app
// embedding ServeProxy would: Gin's writer holds a 1xx back.
func TestInterimResponsesInert(t *testing.T) {
	e := newEnv(t, Options{})
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		h := w.Header()
		h.Set("Set-Cookie", "sess=interim; Path=/")
		h.Set("X-Broker-Error", "forged")
		h.Set("Link", "</evil.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusProcessing)
		clear(h)
		h.Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"final":true}`)
		return true
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "rid-1") // as the broker's middleware does
		e.p.ServeProxy(w, r, appID, connID)
	}))
	t.Cleanup(srv.Close)

	var interim []http.Header
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			interim = append(interim, http.Header(h).Clone())
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/proxy/"+connID+"/x", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"final":true}` {
		t.Fatalf("final answer %d %s", resp.StatusCode, body)
	}
	if len(interim) != 2 {
		t.Fatalf("%d interim answers reached the caller, want the 103 and the 102", len(interim))
	}
	for i, h := range interim {
		for _, name := range []string{"Set-Cookie", "X-Broker-Error", "Link"} {
			if v := h.Values(name); len(v) > 0 {
				t.Errorf("interim answer %d carried the provider's %s: %q", i, name, v)
			}
		}
		if h.Get("X-Request-Id") != "rid-1" {
			t.Errorf("interim answer %d lacks the caller's X-Request-Id: %v", i, h)
		}
	}
	if resp.Header.Get("X-Request-Id") != "rid-1" {
		t.Errorf("the final answer lost X-Request-Id after the interim ones: %v", resp.Header)
	}
	if v := resp.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
		t.Errorf("final X-Content-Type-Options %q", v)
	}
}
