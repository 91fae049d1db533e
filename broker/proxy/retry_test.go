package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// A 401 on an OAuth connection forces one refresh and one retry when the
// request can be replayed; never a loop, never for a body too large to
// replay, never for an API key.
func TestRetryAfter401(t *testing.T) {
	const unauthorized = `{"error":"invalid_token"}`
	cases := []struct {
		name        string
		kind        providers.Kind
		accept      string   // the only token the upstream takes
		next        []string // tokens the refresh hands out
		method      string
		payload     int  // body bytes
		chunked     bool // sent without a length
		status      int
		upstreamHit int
		refreshes   int
	}{
		{"bodyless GET retried", providers.KindOAuth2, "fresh", []string{"fresh"}, "GET", 0, false, 200, 2, 1},
		{"small body replayed", providers.KindOAuth2, "fresh", []string{"fresh"}, "POST", 512, false, 200, 2, 1},
		{"small chunked body replayed", providers.KindOAuth2, "fresh", []string{"fresh"}, "REPORT", 700, true, 200, 2, 1},
		{"body over the retry limit not retried", providers.KindOAuth2, "fresh", []string{"fresh"}, "PUT", 4096, false, 401, 1, 0},
		{"chunked body over the retry limit not retried", providers.KindOAuth2, "fresh", []string{"fresh"}, "PUT", 4096, true, 401, 1, 0},
		{"second 401 returned, no loop", providers.KindOAuth2, "never", []string{"fresh", "fresh2", "fresh3"}, "GET", 0, false, 401, 2, 1},
		{"refresh failed for good: 409 needs_reauth at once", providers.KindOAuth2, "fresh", nil, "GET", 0, false, 409, 1, 0},
		{"API key not refreshed", providers.KindAPIKey, "fresh", []string{"fresh"}, "GET", 0, false, 401, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t)
			var bodies []int64
			up.handler = func(w http.ResponseWriter, r *http.Request, s seen) bool {
				n, _ := io.Copy(io.Discard, r.Body)
				bodies = append(bodies, n)
				if r.Header.Get("Authorization") != "Bearer "+tc.accept {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					w.WriteHeader(http.StatusUnauthorized)
					_, _ = w.Write([]byte(unauthorized))
					return true
				}
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(`{"ok":true}`))
				return true
			}
			creds := newFakeCreds()
			inj := providers.Inject{Type: providers.InjectBearer}
			creds.add(appID, connID, up.provider("p", tc.kind, inj, nil), model.Token{AccessToken: "stale", APIKey: ""})
			creds.next = tc.next
			fr := front(t, mustNew(t, Options{Creds: creds, RetryBodyLimit: 1024}), appID)

			body, headers := strings.Repeat("b", tc.payload), []string{fmt.Sprintf("Content-Length: %d", tc.payload)}
			if tc.chunked {
				body, headers = chunked(body), []string{"Transfer-Encoding: chunked"}
			}
			resp, body := rawDoBody(t, fr, tc.method, "/proxy/con_1/x", body, headers...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			wantErr := "" // the upstream's own answer
			if tc.status == http.StatusConflict {
				wantErr = string(model.CodeNeedsReauth)
			}
			if got := resp.Header.Get(HeaderBrokerError); got != wantErr {
				t.Fatalf("X-Broker-Error %q, want %q", got, wantErr)
			}
			if tc.status == 401 && body != unauthorized {
				t.Fatalf("the upstream's 401 body was changed: %q", body)
			}
			if n := len(up.requests()); n != tc.upstreamHit {
				t.Fatalf("%d upstream requests, want %d", n, tc.upstreamHit)
			}
			if n := creds.refreshCount(); n != tc.refreshes {
				t.Fatalf("%d refreshes, want %d", n, tc.refreshes)
			}
			for i, n := range bodies {
				if n != int64(tc.payload) {
					t.Fatalf("upstream request %d carried %d body bytes, want %d", i, n, tc.payload)
				}
			}
		})
	}
}

// proxy.retryBodyLimit: 0 turns buffering off: a request with a body, however
// small, streams and its 401 is the caller's, while a bodyless request is
// still retried. (0 used to become 1 MiB.)
func TestRetryBodyLimitZeroBuffersNothing(t *testing.T) {
	d := config.Default().Proxy
	for _, tc := range []struct {
		method  string
		payload int
		status  int
		hits    int
	}{{"POST", 1, http.StatusUnauthorized, 1}, {"GET", 0, http.StatusOK, 2}} {
		t.Run(tc.method, func(t *testing.T) {
			up := newUpstream(t)
			up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
				_, _ = io.Copy(io.Discard, r.Body)
				if r.Header.Get("Authorization") != "Bearer fresh" {
					w.WriteHeader(http.StatusUnauthorized)
					return true
				}
				w.WriteHeader(http.StatusOK)
				return true
			}
			creds := newFakeCreds()
			creds.add(appID, connID, up.provider("p", providers.KindOAuth2, providers.Inject{Type: providers.InjectBearer}, nil),
				model.Token{AccessToken: "stale"})
			creds.next = []string{"fresh"}
			p, err := New(Options{Creds: creds, Timeout: d.Timeout.D(), MaxRequestBody: int64(d.MaxRequestBody), RetryBodyLimit: 0})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Options().RetryBodyLimit; got != 0 {
				t.Fatalf("RetryBodyLimit became %d", got)
			}
			resp, body := rawDoBody(t, front(t, p, appID), tc.method, "/proxy/con_1/x", strings.Repeat("b", tc.payload),
				fmt.Sprintf("Content-Length: %d", tc.payload))
			if resp.StatusCode != tc.status || len(up.requests()) != tc.hits {
				t.Fatalf("status %d after %d upstream calls, want %d after %d: %s", resp.StatusCode, len(up.requests()), tc.status, tc.hits, body)
			}
		})
	}
}

// New refuses what cannot work instead of replacing it.
func TestNewRefusesBadOptions(t *testing.T) {
	d := config.Default().Proxy
	ok := Options{Creds: newFakeCreds(), Timeout: d.Timeout.D(), MaxRequestBody: int64(d.MaxRequestBody)}
	for name, edit := range map[string]func(*Options){
		"no creds":              func(o *Options) { o.Creds = nil },
		"zero timeout":          func(o *Options) { o.Timeout = 0 },
		"zero max body":         func(o *Options) { o.MaxRequestBody = 0 },
		"negative retry limit":  func(o *Options) { o.RetryBodyLimit = -1 },
		"negative header bound": func(o *Options) { o.ResponseHeaderTimeout = -1 },
	} {
		o := ok
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}
