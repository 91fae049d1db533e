package apps

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/netguard"
)

// Limits on what an app may carry. They keep rows and consent pages small.
const (
	MinNameLen        = 2
	MaxNameLen        = 256
	MaxDescriptionLen = 4096
	MaxListEntries    = 100
	MaxURLLen         = 2048
)

// AppInput is what an admin sets on an app. Create uses every field; Update
// only the ones its mask names.
type AppInput struct {
	Name                string
	Description         string
	LogoURL             string
	HomepageURL         string
	AllowedDomains      []string
	AllowedRedirectURIs []string
	LoginURL            string
	LogoutURL           string
	WebhookURL          string
	// Permissions of the app's secret; nil (omitted) on Create means all of
	// them, an empty list none.
	Permissions []model.Permission
	// RateLimit in requests per second on /v1 and /proxy; 0 = the
	// broker-wide security.rateLimits.app.
	RateLimit float64
}

// Mask paths: the JSON names of an app's fields (docs/api.md).
const (
	PathName                = "name"
	PathDescription         = "description"
	PathLogoURL             = "logoUrl"
	PathHomepageURL         = "homepageUrl"
	PathAllowedDomains      = "allowedDomains"
	PathAllowedRedirectURIs = "allowedRedirectUris"
	PathLoginURL            = "loginUrl"
	PathLogoutURL           = "logoutUrl"
	PathWebhookURL          = "webhookUrl"
	PathPermissions         = "permissions"
	PathRateLimit           = "rateLimit"
)

// UpdatablePaths are the mask paths Update accepts, in documentation order.
var UpdatablePaths = []string{
	PathName, PathDescription, PathLogoURL, PathHomepageURL, PathAllowedDomains,
	PathAllowedRedirectURIs, PathLoginURL, PathLogoutURL, PathWebhookURL, PathPermissions, PathRateLimit,
}

// readOnlyPaths are fields of an app that only the broker sets.
var readOnlyPaths = map[string]bool{"id": true, "createdDate": true, "updatedDate": true}

// reservedRedirectParams are query parameters the broker itself adds to a
// redirect; an allowed redirect URI that already has one could be confused
// with the broker's answer (docs/security.md "Redirect URLs an app may use").
var reservedRedirectParams = []string{"code", "state", "iss", "connectionId", "error", "error_description"}

func field(path string) string { return "app." + path }

func entry(path string, i int) string { return fmt.Sprintf("app.%s[%d]", path, i) }

// apply validates the fields named by paths and copies them onto a. Values
// are normalised (domains lower-cased, duplicates dropped).
func apply(a *model.App, in AppInput, paths []string, loopback bool) error {
	for _, p := range paths {
		var err error
		switch p {
		case PathName:
			a.Name, err = checkName(in.Name)
		case PathDescription:
			a.Description, err = checkDescription(in.Description)
		case PathLogoURL:
			a.LogoURL, err = checkPageURL(p, in.LogoURL, loopback)
		case PathHomepageURL:
			a.HomepageURL, err = checkPageURL(p, in.HomepageURL, loopback)
		case PathLoginURL:
			a.LoginURL, err = checkPageURL(p, in.LoginURL, loopback)
		case PathLogoutURL:
			a.LogoutURL, err = checkPageURL(p, in.LogoutURL, loopback)
		case PathWebhookURL:
			a.WebhookURL, err = checkPageURL(p, in.WebhookURL, loopback)
		case PathAllowedDomains:
			a.AllowedDomains, err = checkDomains(in.AllowedDomains)
		case PathAllowedRedirectURIs:
			a.AllowedRedirectURIs, err = checkRedirectURIs(in.AllowedRedirectURIs)
		case PathPermissions:
			a.Permissions, err = checkPermissions(in.Permissions)
		case PathRateLimit:
			a.RateLimit, err = checkRateLimit(in.RateLimit)
		default:
			err = fmt.Errorf("apps: unknown path %q", p) // callers check paths first
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n < MinNameLen || n > MaxNameLen {
		return "", model.Invalid(field(PathName), "must be %d to %d characters, got %d", MinNameLen, MaxNameLen, n)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return "", model.Invalid(field(PathName), "must be valid text without control characters")
	}
	return s, nil
}

func checkDescription(s string) (string, error) {
	if n := utf8.RuneCountInString(s); n > MaxDescriptionLen {
		return "", model.Invalid(field(PathDescription), "must be at most %d characters, got %d", MaxDescriptionLen, n)
	}
	if !utf8.ValidString(s) {
		return "", model.Invalid(field(PathDescription), "must be valid UTF-8")
	}
	return s, nil
}

func checkPermissions(ps []model.Permission) ([]model.Permission, error) {
	out := make([]model.Permission, 0, len(ps))
	seen := map[model.Permission]bool{}
	for i, p := range ps {
		known := false
		for _, q := range model.AllPermissions {
			known = known || p == q
		}
		if !known {
			return nil, model.Invalid(entry(PathPermissions, i), "%q is not a permission; use %s", clip(string(p)), permissionList())
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func permissionList() string {
	s := make([]string, len(model.AllPermissions))
	for i, p := range model.AllPermissions {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// checkDomains accepts host names an app owns: redirects go to an entry or a
// subdomain of it, so anything that could stand for more than one owner (a
// wildcard, a public suffix, an IP literal, a look-alike in Unicode) is
// refused.
func checkDomains(ds []string) ([]string, error) {
	if len(ds) > MaxListEntries {
		return nil, model.Invalid(field(PathAllowedDomains), "at most %d entries, got %d", MaxListEntries, len(ds))
	}
	out := make([]string, 0, len(ds))
	seen := map[string]bool{}
	for i, d := range ds {
		norm, msg := checkDomain(d)
		if msg != "" {
			return nil, model.Invalid(entry(PathAllowedDomains, i), "%q %s", clip(d), msg)
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	return out, nil
}

// checkDomain returns the lower-cased domain, or why it is refused.
func checkDomain(d string) (string, string) {
	switch {
	case d == "":
		return "", "must not be empty"
	case len(d) > 253:
		return "", "is longer than 253 characters"
	case strings.Contains(d, "://"):
		return "", "must be a host name without a scheme"
	case strings.ContainsRune(d, '*'):
		return "", "must be a host name, not a wildcard (subdomains are allowed already)"
	case strings.ContainsAny(d, "/?#\\"):
		return "", "must be a host name without a path"
	case strings.ContainsRune(d, '@'):
		return "", "must be a host name without user information"
	case strings.ContainsRune(d, ':') && net.ParseIP(strings.Trim(d, "[]")) == nil:
		return "", "must be a host name without a port"
	}
	for _, r := range d {
		if r > unicode.MaxASCII {
			return "", "must be ASCII: write an internationalized name in its punycode (xn--) form"
		}
	}
	d = strings.ToLower(d)
	if net.ParseIP(strings.Trim(d, "[]")) != nil {
		return "", "must be a host name, not an IP address"
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", "is not a valid host name (labels of 1 to 63 letters, digits and inner hyphens)"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", "is not a valid host name (labels of 1 to 63 letters, digits and inner hyphens)"
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		// A numeric top-level label: an IPv4 address in another spelling.
		return "", "must be a host name, not an IP address"
	}
	if d == "localhost" {
		return d, "" // development apps redirect to http://localhost
	}
	if suffix, _ := publicsuffix.PublicSuffix(d); suffix == d {
		return "", "is a public suffix, which no single app owns"
	}
	return d, ""
}

func checkRedirectURIs(us []string) ([]string, error) {
	if len(us) > MaxListEntries {
		return nil, model.Invalid(field(PathAllowedRedirectURIs), "at most %d entries, got %d", MaxListEntries, len(us))
	}
	out := make([]string, 0, len(us))
	seen := map[string]bool{}
	for i, raw := range us {
		u, msg := checkURL(raw)
		if msg == "" && (u.Fragment != "" || strings.Contains(raw, "#")) {
			msg = "must not have a fragment"
		}
		if msg == "" {
			q := u.Query()
			for _, p := range reservedRedirectParams {
				if q.Has(p) {
					msg = fmt.Sprintf("must not carry the query parameter %q, which the broker sets", p)
					break
				}
			}
		}
		if msg != "" {
			return nil, model.Invalid(entry(PathAllowedRedirectURIs, i), "%s %s", shown(raw), msg)
		}
		if !seen[raw] {
			seen[raw] = true
			out = append(out, raw)
		}
	}
	return out, nil
}

// checkPageURL checks an optional URL shown to end users or called by the
// broker (logo, homepage, login, logout, webhook): besides the syntax rules
// of checkURL it is an SSRF target (docs/security.md §21), so its host may
// not be an internal address in any spelling, and loopback (plain http
// included) only when the operator allows it.
func checkPageURL(path, raw string, loopback bool) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, msg := checkURL(raw)
	if msg != "" {
		return "", model.Invalid(field(path), "%s %s", shown(raw), msg)
	}
	if err := netguard.CheckURL(u, loopback); err != nil {
		return "", model.Invalid(field(path), "%s is refused: its host is %v", shown(raw), err)
	}
	return raw, nil
}

// checkURL requires an absolute https URL (http only on loopback) with a
// plain ASCII host and no user information.
func checkURL(raw string) (*url.URL, string) {
	if len(raw) > MaxURLLen {
		return nil, fmt.Sprintf("is longer than %d characters", MaxURLLen)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' }) {
		return nil, "must not contain spaces, control characters or backslashes"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "is not a valid URL"
	}
	if u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return nil, "must be an absolute https URL"
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return nil, "must not carry user information"
	}
	host := u.Hostname()
	for _, r := range host {
		if r > unicode.MaxASCII {
			return nil, "must have an ASCII host: write an internationalized name in its punycode (xn--) form"
		}
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopbackHost(host) {
			return nil, "must use https (plain http only for localhost)"
		}
	default:
		return nil, "must be an absolute https URL"
	}
	return u, ""
}

func isLoopbackHost(h string) bool {
	h = strings.ToLower(h)
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// shown quotes a URL for an error message without its user information,
// query or fragment, which may hold credentials.
func shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the URL"
	}
	return fmt.Sprintf("%q", clip(u.Scheme+"://"+u.Host+u.EscapedPath()))
}

// clip bounds how much of a caller's value an error message repeats.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

// MaxRateLimit bounds an app's own rate limit (requests per second).
const MaxRateLimit = 1e6

func checkRateLimit(r float64) (float64, error) {
	if r < 0 || r > MaxRateLimit || r != r {
		return 0, model.Invalid(field(PathRateLimit), "must be between 0 (the broker-wide limit) and %g requests per second", float64(MaxRateLimit))
	}
	return r, nil
}
