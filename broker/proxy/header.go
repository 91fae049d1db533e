package proxy

import (
	"net/http"
	"strings"
)

// droppedHeaders never reach the provider (docs/security.md §9): the caller's own
// credentials (the broker's app secret travels in Authorization or
// X-Api-Key), forwarding headers that would tell the provider a made-up
// client address, the upgrade machinery and hop-by-hop headers. They are
// compared case-insensitively with '_' equal to '-', because some upstream
// stacks (CGI-style) fold X_Forwarded_For into X-Forwarded-For.
var droppedHeaders = []string{
	"authorization",
	"proxy-authorization",
	"proxy-authenticate",
	"cookie",
	"cookie2",
	"x-api-key",
	"forwarded",
	"x-real-ip",
	"x-client-ip",
	"true-client-ip",
	"upgrade",
	"connection",
	"proxy-connection",
	"keep-alive",
	"te",
	"trailer",
	"transfer-encoding",
	"http2-settings",
}

// droppedPrefix drops every X-Forwarded-* header, X-Forwarded-Host and
// X-Forwarded-Proto included.
const droppedPrefix = "x-forwarded-"

// filterHeaders removes from h (the outbound request's headers) every header
// the caller may not send to the provider: droppedHeaders, X-Forwarded-*,
// every header named in the inbound Connection header (conn), and every
// header the broker itself will set (own: the provider's credential and
// static header names), so that after injection the provider sees exactly
// one credential: the connection's.
func filterHeaders(h http.Header, conn []string, own []string) {
	for name := range h {
		if dropHeader(name, own) {
			delete(h, name)
		}
	}
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			for name := range h {
				if headerEq(name, tok) {
					delete(h, name)
				}
			}
		}
	}
}

func dropHeader(name string, own []string) bool {
	if headerHasPrefix(name, droppedPrefix) {
		return true
	}
	for _, d := range droppedHeaders {
		if headerEq(name, d) {
			return true
		}
	}
	for _, d := range own {
		if headerEq(name, d) {
			return true
		}
	}
	return false
}

// foldHeaderByte lower-cases ASCII and maps '_' to '-'.
func foldHeaderByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	if c == '_' {
		return '-'
	}
	return c
}

// headerEq compares header names case-insensitively with '_' == '-'.
func headerEq(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

func headerHasPrefix(name, prefix string) bool {
	return len(name) >= len(prefix) && headerEq(name[:len(prefix)], prefix)
}

// dropResponseHeaders removes what the provider may not send to the caller
// (docs/security.md §10): cookies, which would be set on the broker's origin, and
// X-Broker-Error, which marks answers the broker made itself. Hop-by-hop
// headers are already gone (httputil.ReverseProxy removes them).
func dropResponseHeaders(h http.Header) {
	for name := range h {
		if headerEq(name, "set-cookie") || headerEq(name, "set-cookie2") || headerEq(name, HeaderBrokerError) {
			delete(h, name)
		}
	}
}
