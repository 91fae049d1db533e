package proxy

import (
	"net/http"
	"slices"
	"testing"

	"github.com/oauthbroker/broker/providers"
)

func TestFilterHeaders(t *testing.T) {
	cases := []struct {
		name string
		in   http.Header
		conn []string
		own  []string
		keep []string // header names that must survive; everything else goes
	}{
		{"caller credentials", http.Header{
			"Authorization": {"Basic YXBwOnNlY3JldA=="}, "Proxy-Authorization": {"x"},
			"Cookie": {"a=b"}, "X-Api-Key": {"app-secret"}, "Accept": {"application/json"},
		}, nil, nil, []string{"Accept"}},
		{"forwarding in any spelling", http.Header{
			"X-Forwarded-For": {"1.2.3.4"}, "X_forwarded_for": {"127.0.0.1"}, "X-Forwarded-Host": {"internal"},
			"X-Forwarded-Proto": {"http"}, "X-FORWARDED-PORT": {"80"}, "Forwarded": {"for=1.2.3.4"},
			"X-Real-Ip": {"1.2.3.4"}, "X_real_ip": {"1.2.3.4"}, "Content-Type": {"text/plain"},
		}, nil, nil, []string{"Content-Type"}},
		{"hop-by-hop and upgrade", http.Header{
			"Connection": {"keep-alive"}, "Keep-Alive": {"300"}, "Upgrade": {"websocket"}, "Te": {"gzip"},
			"Transfer-Encoding": {"chunked"}, "Proxy-Connection": {"keep-alive"}, "If-Match": {"etag"},
		}, nil, nil, []string{"If-Match"}},
		{"named in Connection", http.Header{
			"Authorization": {"x"}, "X-Custom": {"1"}, "X_secret": {"1"}, "Depth": {"1"},
		}, []string{"X-Custom, x-secret", ""}, nil, []string{"Depth"}},
		{"broker's own headers", http.Header{
			"Cal-Api-Version": {"1999"}, "Cal_api_version": {"1999"}, "X-Cal-Key": {"theirs"}, "Prefer": {"x"},
		}, nil, []string{"cal-api-version", "X-Cal-Key"}, []string{"Prefer"}},
		{"rewrite, address and override headers nobody listed", http.Header{
			"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"}, "X-Original-Uri": {"/admin"},
			"X-Envoy-Original-Path": {"/admin"}, "X-Original-Host": {"internal"}, "X-Host": {"internal"},
			"X-Http-Method-Override": {"DELETE"}, "Base-Url-Override": {"https://evil"}, "Client-Ip": {"127.0.0.1"},
			"True-Client-Ip": {"127.0.0.1"}, "Cf-Connecting-Ip": {"127.0.0.1"}, "Via": {"1.1 internal"},
			"X-Something-New": {"1"}, "Content_type": {"text/html"}, "If-None-Match": {`"e"`}, "Range": {"bytes=0-1"},
		}, nil, nil, []string{"If-None-Match", "Range"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.in.Clone()
			allow := newAllowSet(append(slices.Clone(providers.DefaultRequestHeaders), "Prefer", "Cal-Api-Version", "X-Cal-Key"), tc.own)
			filterHeaders(h, tc.conn, allow)
			if len(h) != len(tc.keep) {
				t.Fatalf("kept %v, want only %v", h, tc.keep)
			}
			for _, k := range tc.keep {
				if _, ok := h[k]; !ok {
					t.Fatalf("%s was dropped", k)
				}
			}
		})
	}
}

func TestDropResponseHeaders(t *testing.T) {
	h := http.Header{"Set-Cookie": {"a=b"}, "Set-Cookie2": {"c"}, "X-Broker-Error": {"internal"}, "Etag": {"1"}}
	dropResponseHeaders(h)
	if len(h) != 1 || h.Get("Etag") != "1" {
		t.Fatalf("got %v", h)
	}
}
