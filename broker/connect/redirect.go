package connect

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/oauthbroker/broker/broker/model"
)

// MaxRedirectURLLen bounds a redirect URL an app may register for a flow.
const MaxRedirectURLLen = 2048

// reservedParams are the query parameters the broker itself adds to, or a
// provider sends to, a redirect URL. One already present could be confused
// with the outcome of the flow, so such URLs are refused.
var reservedParams = []string{"code", "state", "iss", "connectionId", "error", "error_description", "appState"}

// ValidateRedirectURL checks that raw is a URL the broker may send app's end
// users back to (docs/security.md "Redirect URLs an app may use"):
//
//   - printable ASCII only: no control characters, spaces, backslashes or
//     raw non-ASCII, which browsers and url.Parse read differently;
//   - an absolute https URL, or http when the host is a loopback name
//     (localhost, 127.0.0.1, [::1]);
//   - no userinfo, no fragment, none of the reserved query parameters;
//   - its host (lowercased, without a trailing dot) equal to one of the
//     app's allowedDomains or a subdomain of one across a dot, or the whole
//     URL equal to one of its allowedRedirectUris.
//
// The URL is parsed once and the parsed host is what is compared, so what is
// checked is what a browser will visit.
func ValidateRedirectURL(app *model.App, raw string) error {
	const field = "redirectUrl"
	if raw == "" {
		return model.Invalid(field, "is required")
	}
	if len(raw) > MaxRedirectURLLen {
		return model.Invalid(field, "is longer than %d characters", MaxRedirectURLLen)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return model.Invalid(field, "must be printable ASCII without spaces or backslashes")
		}
	}
	if strings.Contains(raw, "#") {
		return model.Invalid(field, "must not have a fragment")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return model.Invalid(field, "is not a valid URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return model.Invalid(field, "must be an https URL")
	}
	// The scheme must be followed by "//" and an authority: "https:evil.com"
	// and "https:/evil.com" are read as hosts by some browsers.
	if u.Opaque != "" || !strings.HasPrefix(strings.ToLower(raw), u.Scheme+"://") {
		return model.Invalid(field, "must be an absolute URL")
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return model.Invalid(field, "must not have user information")
	}
	host, ok := normalHost(u)
	if !ok {
		return model.Invalid(field, "has an invalid host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return model.Invalid(field, "has an invalid port")
		}
	}
	if u.Scheme == "http" && !isLoopbackName(host) {
		return model.Invalid(field, "must use https (plain http is allowed only for localhost)")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return model.Invalid(field, "has a malformed query")
	}
	for k := range q {
		for _, r := range reservedParams {
			if strings.EqualFold(k, r) {
				return model.Invalid(field, "must not have a %q query parameter: the broker adds it", r)
			}
		}
	}
	if hostAllowed(app.AllowedDomains, host) || exactURIAllowed(app.AllowedRedirectURIs, raw) {
		return nil
	}
	return model.Invalid(field, "is not in the app's allowed domains or redirect URIs")
}

// normalHost returns u's host name lowercased and without a trailing dot,
// refusing empty labels, percent-encoding and characters outside of a DNS
// name; IP literals are allowed (they can only match an exact redirect URI
// or be loopback).
func normalHost(u *url.URL) (string, bool) {
	if u.Host == "" || strings.Contains(u.Host, "%") {
		return "", false
	}
	h := strings.ToLower(u.Hostname())
	if strings.HasPrefix(u.Host, "[") {
		ip := net.ParseIP(h)
		return h, ip != nil && ip.To4() == nil
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", false
			}
		}
	}
	return h, true
}

func isLoopbackName(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// hostAllowed reports whether host is one of the domains or a subdomain of
// one across a dot. An IP address never matches by suffix.
func hostAllowed(domains []string, host string) bool {
	isIP := net.ParseIP(host) != nil
	for _, d := range domains {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" || strings.ContainsAny(d, "*/:@") {
			continue // never a wildcard, scheme or authority
		}
		if host == d {
			return true
		}
		if !isIP && strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

func exactURIAllowed(uris []string, raw string) bool {
	for _, u := range uris {
		if u == raw {
			return true
		}
	}
	return false
}
