package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthbroker/broker/broker/model"
)

// errBadHeader is the answer to a refused URL-carrying header; it names
// the rule, never echoes the value.
func errBadHeader(name, reason string) error {
	return &model.Error{Code: model.CodeInvalidArgument, Field: name, Message: name + " header refused: " + reason}
}

// confineHeaders checks the request headers that carry a URL the provider
// acts on and that the allow list lets through, each confined like the
// path (docs/security.md §9): WebDAV's COPY and MOVE name their target in
// Destination, and If may name resources in tagged lists. It returns, for
// connection connID, and returns the provider URL Destination is rewritten
// to ("" when the request has none).
func (p *Proxy) confineHeaders(h http.Header, connID string, b *upstreamBase) (string, error) {
	for _, v := range h["If"] {
		if hasTaggedResource(v) {
			return "", errBadHeader("If", "tagged resource lists are not supported through the proxy")
		}
	}
	ds := h["Destination"]
	switch len(ds) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", errBadHeader("Destination", "sent more than once")
	}
	return p.destination(ds[0], connID, b)
}

// destination confines a WebDAV Destination to the same connection. It may
// be written in the broker's terms, {publicUrl}/proxy/{connID}/… (what a DAV
// client pointed at the broker sends) or the path /proxy/{connID}/…, or as a
// path under the provider's base path. Either way the remainder goes
// through buildPath, the same segment-by-segment builder as the request
// path, and the result is the provider's own URL. Anything else (another
// host or spelling of it, another connection, a path outside the base, a
// query or fragment) is refused.
func (p *Proxy) destination(raw, connID string, b *upstreamBase) (string, error) {
	const name = "Destination"
	if raw == "" || len(raw) > 8192 || strings.ContainsAny(raw, "\\\x00\r\n\t ") {
		return "", errBadHeader(name, "not a URL")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", errBadHeader(name, "must be a URL without user information, query or fragment")
	}
	escaped := u.EscapedPath()
	var suffix string
	var ok bool
	switch {
	case u.Scheme != "" || u.Host != "":
		if p.public == nil || !strings.EqualFold(u.Scheme, p.public.Scheme) || !strings.EqualFold(u.Host, p.public.Host) ||
			!strings.HasPrefix(escaped, p.publicPath+"/proxy/") {
			return "", errBadHeader(name, "must name a location of the same connection, under {publicUrl}/proxy/{connectionId}/")
		}
		suffix, ok = suffixAfter(escaped[len(p.publicPath):], connID)
	case strings.HasPrefix(escaped, p.publicPath+"/proxy/"):
		suffix, ok = suffixAfter(escaped[len(p.publicPath):], connID)
	case strings.HasPrefix(escaped, b.rawPrefix):
		suffix, ok = escaped[len(b.rawPrefix)-1:], true
	}
	if !ok || (suffix != "" && suffix[0] != '/') {
		return "", errBadHeader(name, "must name a location of the same connection under the provider's base")
	}
	_, rawPath, err := buildPath(b, suffix)
	if err != nil {
		return "", errBadHeader(name, "its path is refused by the same rules as the request path")
	}
	return b.scheme + "://" + b.host + rawPath, nil
}

// hasTaggedResource reports whether a WebDAV If header value (RFC 4918
// §10.4) has a tagged list: a resource URL in angle brackets outside the
// parentheses that hold state tokens. Such a URL would let the provider act
// on a resource the broker has not confined.
func hasTaggedResource(v string) bool {
	depth := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case '<':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}
