package providers

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/oauthbroker/broker/broker/netguard"
)

// checker collects the problems of one provider under its path prefix.
type checker struct {
	prefix string
	errs   []FieldError
}

func (c *checker) add(key, msg string) {
	p := c.prefix
	if key != "" {
		p += "." + key
	}
	c.errs = append(c.errs, FieldError{Path: p, Message: msg})
}

var (
	idRe         = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	tenantRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$`)
	methodRe     = regexp.MustCompile(`^[A-Z][A-Z-]{0,31}$`)
	headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

func validID(id string) bool        { return idRe.MatchString(id) }
func validTenant(t string) bool     { return tenantRe.MatchString(t) }
func validHeaderName(h string) bool { return headerNameRe.MatchString(h) }
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// urlField is one URL-valued field of a Spec.
type urlField struct {
	key        string
	val        *string
	allowQuery bool
}

func urlFields(s *Spec) []urlField {
	return []urlField{
		{"authUrl", &s.AuthURL, true},
		{"tokenUrl", &s.TokenURL, true},
		{"refreshUrl", &s.RefreshURL, true},
		{"revokeUrl", &s.RevokeURL, true},
		{"userInfoUrl", &s.UserInfoURL, true},
		{"testUrl", &s.TestURL, true},
		{"issuer", &s.Issuer, false},
		{"apiBaseUrl", &s.APIBaseURL, false},
	}
}

// checkURLs enforces docs/security.md §17: https only, plain http to loopback only
// when the server allows it.
func (c *checker) checkURLs(s *Spec, opts ResolveOptions) {
	for _, f := range urlFields(s) {
		if *f.val == "" {
			continue
		}
		if msg := urlProblem(*f.val, f.allowQuery, opts); msg != "" {
			c.add(f.key, msg)
		}
	}
}

func urlProblem(raw string, allowQuery bool, opts ResolveOptions) string {
	if strings.ContainsAny(raw, "{}") {
		return "unknown placeholder: only {tenant} (and {apiBaseUrl} in testUrl and userInfoUrl) is replaced"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "must be an absolute URL"
	case u.User != nil:
		return "must not contain user info"
	case strings.Contains(raw, "#"):
		return "must not have a fragment"
	case !allowQuery && (u.RawQuery != "" || u.ForceQuery):
		return "must not have a query"
	case u.Scheme == "https":
	case u.Scheme == "http" && opts.AllowInsecureLoopback && isLoopbackHost(u.Hostname()):
	default:
		return "must be https (plain http only to 127.0.0.1, localhost or [::1], and only with server.allowInsecureLoopback)"
	}
	// https too: the broker sends credentials there (docs/security.md §21).
	if err := netguard.CheckURL(&url.URL{Scheme: "https", Host: u.Host}, opts.AllowInsecureLoopback); err != nil {
		return fmt.Sprintf("must not point to an internal address: its host is %v", err)
	}
	return ""
}

// checkKindFields refuses OAuth settings on credentials providers (they
// would be silently ignored) and requires the OAuth endpoints.
func (c *checker) checkKindFields(s *Spec) {
	if s.Kind == KindOAuth2 {
		if s.AuthURL == "" {
			c.add("authUrl", "required for an oauth2 provider")
		}
		if s.TokenURL == "" {
			c.add("tokenUrl", "required for an oauth2 provider")
		}
		return
	}
	oauthOnly := []struct {
		key string
		set bool
	}{
		{"clientId", s.ClientID != ""},
		{"clientSecret", s.ClientSecret != ""},
		{"authUrl", s.AuthURL != ""},
		{"tokenUrl", s.TokenURL != ""},
		{"refreshUrl", s.RefreshURL != ""},
		{"revokeUrl", s.RevokeURL != ""},
		{"issuer", s.Issuer != ""},
		{"scopes", len(s.Scopes) > 0},
		{"scopeSeparator", s.ScopeSeparator != ""},
		{"authStyle", s.AuthStyle != ""},
		{"pkce", s.PKCE != nil},
		{"authParams", len(s.AuthParams) > 0},
		{"tokenLifetime", s.TokenLifetime != ""},
		{"rotatesRefreshTokens", s.RotatesRefreshTokens != nil},
		{"keepAlive", s.KeepAlive != nil},
	}
	for _, f := range oauthOnly {
		if f.set {
			c.add(f.key, "only for oauth2 providers")
		}
	}
}

// Static headers that would fight the proxy's own header handling.
var forbiddenStaticHeaders = []string{
	"authorization", "connection", "content-length", "cookie", "host",
	"keep-alive", "proxy-authorization", "proxy-connection", "te",
	"trailer", "transfer-encoding", "upgrade",
}

// checkFields validates the enumerations, names and maps.
func (c *checker) checkFields(s *Spec) {
	if s.AuthStyle != "" && s.AuthStyle != AuthStyleBody && s.AuthStyle != AuthStyleBasic {
		c.add("authStyle", "must be body or basic")
	}
	switch s.Events {
	case "", "google", "microsoft", "calcom", "caldav", "none":
	default:
		c.add("events", "must be google, microsoft, calcom, caldav or none")
	}
	if s.TestMethod != "" && !methodRe.MatchString(s.TestMethod) {
		c.add("testMethod", "must be an HTTP method in upper case, such as GET or PROPFIND")
	}
	sep := s.ScopeSeparator
	if sep == "" {
		sep = DefaultScopeSeparator
	}
	for i, sc := range s.Scopes {
		if sc == "" || strings.Contains(sc, sep) {
			c.add("scopes["+strconv.Itoa(i)+"]", "must not be empty or contain the scope separator")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.AuthParams)) {
		if slices.Contains(reservedAuthParams, k) {
			c.add("authParams."+k, "set by the broker")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		switch {
		case !validHeaderName(k):
			c.add("headers."+k, "not a valid header name")
		case slices.Contains(forbiddenStaticHeaders, strings.ToLower(k)):
			c.add("headers."+k, "set by the broker or the proxy (credentials go through inject)")
		case strings.ContainsAny(s.Headers[k], "\r\n\x00"):
			c.add("headers."+k, "must not contain CR, LF or NUL")
		}
	}
	for i, h := range s.AllowHeaders {
		switch {
		case !validHeaderName(h):
			c.add("allowHeaders["+strconv.Itoa(i)+"]", "not a valid header name")
		case NeverForwarded(h):
			c.add("allowHeaders["+strconv.Itoa(i)+"]", h+" never reaches a provider: it carries the caller's credentials, a client address, a URL rewrite or connection control")
		}
	}
	c.checkInject(s)
}

// checkRoom refuses a `quirks:` name that is not one of the rooms.
func (c *checker) checkRoom(s *Spec, rooms Rooms) {
	if s.Quirks == "" {
		return
	}
	if _, ok := rooms[s.Quirks]; !ok {
		names := slices.Sorted(maps.Keys(rooms))
		c.add("quirks", "must be empty or one of "+strings.Join(names, ", "))
	}
}

func (c *checker) checkInject(s *Spec) {
	in := s.Inject
	if in == nil {
		return
	}
	switch in.Type {
	case InjectBearer, InjectBasic:
		if in.Name != "" {
			c.add("inject.name", "only for inject type header or query")
		}
	case InjectHeader, InjectQuery:
		switch {
		case in.Name == "":
			c.add("inject.name", "required for inject type "+string(in.Type))
		case in.Type == InjectHeader && !validHeaderName(in.Name):
			c.add("inject.name", "not a valid header name")
		case in.Type == InjectHeader && !strings.EqualFold(in.Name, "Authorization") &&
			slices.Contains(forbiddenStaticHeaders, strings.ToLower(in.Name)):
			// Authorization is allowed: some APIs want the raw key there.
			c.add("inject.name", "cannot carry a credential")
		}
	case "":
		c.add("inject.type", "required: bearer, header, query or basic")
		return
	default:
		c.add("inject.type", "must be bearer, header, query or basic")
		return
	}
	switch {
	case s.Kind == KindBasic && in.Type != InjectBasic:
		c.add("inject.type", "must be basic for a basic provider (username and password)")
	case s.Kind != KindBasic && in.Type == InjectBasic:
		c.add("inject.type", "basic needs a username and password: only for kind basic")
	}
}
