package providers

import (
	"net/textproto"
	"strings"
)

// DefaultRequestHeaders are the caller's request headers the proxy passes to
// every provider (docs/security.md §9): what a calendar API needs for
// content negotiation, conditional requests, caching, ranges, WebDAV and
// CalDAV, plus the user agent. Every other header is dropped; a provider
// adds its own with `allowHeaders` in the catalog or broker.yaml.
// Destination is passed only after it has been confined and rewritten
// like the request path.
var DefaultRequestHeaders = []string{
	// content negotiation and the body
	"Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset",
	"Content-Type", "Content-Encoding", "Content-Language", "Content-Range", "Content-Md5", "Digest",
	// conditional requests, caching, ranges
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range",
	"Cache-Control", "Pragma", "Range",
	// WebDAV (RFC 4918) and CalDAV scheduling (RFC 6638)
	"Depth", "Destination", "Overwrite", "If", "Lock-Token", "Timeout",
	"Schedule-Reply", "If-Schedule-Tag-Match",
	"User-Agent",
}

// neverForwarded are headers no provider entry may add to its allow list:
// the caller's own credentials, forwarding and client-address headers,
// URL-rewrite and method-override headers, and the hop-by-hop and upgrade
// machinery (docs/security.md §9). Names are compared with '_' as '-'.
var neverForwarded = []string{
	"authorization", "proxy-authorization", "proxy-authenticate", "cookie", "cookie2", "x-api-key",
	"forwarded", "via", "x-real-ip", "x-client-ip", "client-ip", "true-client-ip", "cf-connecting-ip",
	"fastly-client-ip", "x-cluster-client-ip", "x-original-url", "x-rewrite-url", "x-original-uri",
	"x-envoy-original-path", "x-original-host", "x-host", "x-http-method-override", "x-http-method",
	"x-method-override", "base-url-override", "host", "upgrade", "connection", "proxy-connection",
	"keep-alive", "te", "trailer", "transfer-encoding", "http2-settings", "content-length", "expect",
}

// neverForwardedPrefixes are name prefixes refused the same way.
var neverForwardedPrefixes = []string{"x-forwarded-", "x-envoy-", "x-broker-"}

// NeverForwarded reports whether a header may never reach a provider from
// the caller, whatever a provider entry allows.
func NeverForwarded(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	for _, p := range neverForwardedPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	for _, f := range neverForwarded {
		if n == f {
			return true
		}
	}
	return false
}

// RequestHeaders returns the canonical names of the caller's headers the
// proxy passes to p: the defaults and p's allowHeaders.
func (p *Provider) RequestHeaders() []string {
	out := make([]string, 0, len(DefaultRequestHeaders)+len(p.AllowHeaders))
	for _, h := range DefaultRequestHeaders {
		out = append(out, textproto.CanonicalMIMEHeaderKey(h))
	}
	for _, h := range p.AllowHeaders {
		out = append(out, textproto.CanonicalMIMEHeaderKey(h))
	}
	return out
}

// CallerMayOverride reports whether a caller's copy of the static header
// name replaces the catalog's value: when the provider lists it in
// allowHeaders (Cal.com's cal-api-version: the catalog's version is the
// default, an app may ask for another).
func (p *Provider) CallerMayOverride(name string) bool {
	for _, h := range p.AllowHeaders {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}
