package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// allowSet holds the canonical names of the caller's request headers that
// reach one provider (docs/security.md §9): providers.DefaultRequestHeaders
// and the provider's allowHeaders, less the headers the broker sets itself
// for it (its credential header and static headers the caller may not
// override). Everything else is dropped: an allow list, so a header nobody
// thought of (X-Original-URL, Client-IP, a method override) never reaches
// the provider next to the injected credential.
type allowSet map[string]struct{}

func newAllowSet(names, own []string) allowSet {
	a := make(allowSet, len(names))
	for _, n := range names {
		a[textproto.CanonicalMIMEHeaderKey(n)] = struct{}{}
	}
	for _, n := range own {
		delete(a, textproto.CanonicalMIMEHeaderKey(n))
	}
	return a
}

// filterHeaders removes from h (the outbound request's headers) every
// header not in allow, and every header named in the inbound Connection
// header (conn), so that after injection the provider sees exactly one
// credential: the connection's. Go's server stores header names in
// canonical form; a name it could not canonicalise is not in allow and
// goes too.
func filterHeaders(h http.Header, conn []string, allow allowSet) {
	for name := range h {
		if _, ok := allow[name]; !ok {
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
