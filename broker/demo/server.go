package demo

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/oauthbroker/broker/providers"
)

// ProviderID is the demo provider's id (docs/configuration.md, demo).
const ProviderID = "demo"

// Path is where the broker mounts the demo, whatever the path of publicUrl
// (a proxy in front that adds a prefix strips it, as for /oauth).
const Path = "/demo"

// ClientID is the OAuth client id the broker uses at the demo provider; the
// secret is random per process (Server.ClientSecret).
const ClientID = "broker-demo"

// Lifetimes and bounds. Access tokens are short so that a refresh (and the
// refresh token's rotation) happens within minutes of trying the demo.
const (
	DefaultAccessTokenTTL = 5 * time.Minute
	RefreshTokenTTL       = 7 * 24 * time.Hour
	CodeTTL               = time.Minute
	RequestTTL            = 10 * time.Minute
	// MaxEntries bounds each in-memory table (pending authorize requests,
	// codes, access tokens, refresh tokens, used refresh tokens).
	MaxEntries = 10000
)

// Scopes the demo provider knows; the broker asks for all of them.
var Scopes = []string{"openid", "email", "profile", "calendar.readonly"}

// Account is the one demo user every grant belongs to.
var Account = struct{ ID, Email, Name string }{"demo-user-1", "demo@example.com", "Demo User"}

// Options configure a Server.
type Options struct {
	// BaseURL is where browsers reach the demo: {publicUrl}/demo.
	BaseURL string
	// CallbackURL is the one redirect_uri the authorize endpoint accepts:
	// the broker's {publicUrl}/oauth/callback.
	CallbackURL string
	// AccessTokenTTL defaults to DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	Now            func() time.Time
}

// Server is the demo provider. It is safe for concurrent use.
type Server struct {
	base, callback string
	secret         string
	accessTTL      time.Duration
	now            func() time.Time
	mux            *http.ServeMux
	cal            *calendar

	requests *ttlCache[authRequest]
	codes    *ttlCache[grant]
	access   *ttlCache[grant]
	refresh  *ttlCache[grant]
	// used remembers rotated refresh tokens: presenting one again means it
	// leaked, and the whole grant it belongs to is revoked (RFC 9700 §4.14.2).
	used    *ttlCache[string]
	revoked *ttlCache[bool]
}

// New builds a Server whose calendar holds events around the day of now.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AccessTokenTTL <= 0 {
		o.AccessTokenTTL = DefaultAccessTokenTTL
	}
	s := &Server{
		base: strings.TrimRight(o.BaseURL, "/"), callback: o.CallbackURL, secret: randomToken(),
		accessTTL: o.AccessTokenTTL, now: o.Now, cal: newCalendar(o.Now()),
		requests: newTTLCache[authRequest](MaxEntries, RequestTTL, o.Now),
		codes:    newTTLCache[grant](MaxEntries, CodeTTL, o.Now),
		access:   newTTLCache[grant](MaxEntries, o.AccessTokenTTL, o.Now),
		refresh:  newTTLCache[grant](MaxEntries, RefreshTokenTTL, o.Now),
		used:     newTTLCache[string](MaxEntries, RefreshTokenTTL, o.Now),
		revoked:  newTTLCache[bool](MaxEntries, RefreshTokenTTL, o.Now),
	}
	m := http.NewServeMux()
	p := Path
	m.HandleFunc("GET "+p+"/{$}", s.home)
	m.HandleFunc("GET "+p+"/authorize", s.authorizePage)
	m.HandleFunc("POST "+p+"/authorize", s.authorizeDecision)
	m.HandleFunc("POST "+p+"/token", s.token)
	m.HandleFunc("GET "+p+"/userinfo", s.userinfo)
	m.HandleFunc("GET "+p+"/app", s.appLanding)
	m.HandleFunc(p+"/calendar/v3/", s.calendarAPI)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		googleError(w, http.StatusNotFound, "notFound", "Not Found")
	})
	s.mux = m
	return s
}

// Handler serves every /demo/ route.
func (s *Server) Handler() http.Handler { return s.mux }

// ClientSecret is the broker's client secret at the demo provider (random
// per process; never logged).
func (s *Server) ClientSecret() string { return s.secret }

// AppRedirectURL is the demo app's landing page, which shows the
// connectionId (or error) the broker redirects back with.
func (s *Server) AppRedirectURL() string { return s.base + "/app" }

// Spec is the demo provider as the broker's registry sees it: an OAuth 2.0
// provider whose events are read by the Google adapter.
func (s *Server) Spec() providers.Spec {
	on, pkce, rotates, keepAlive := true, true, true, false
	return providers.Spec{
		Kind:                 providers.KindOAuth2,
		Name:                 "Demo Calendar",
		Enabled:              &on,
		ClientID:             ClientID,
		ClientSecret:         s.secret,
		AuthURL:              s.base + "/authorize",
		TokenURL:             s.base + "/token",
		UserInfoURL:          s.base + "/userinfo",
		TestURL:              s.base + "/calendar/v3/users/me/calendarList?maxResults=1",
		TestMethod:           http.MethodGet,
		Issuer:               s.base,
		APIBaseURL:           s.base + "/calendar/v3",
		Scopes:               append([]string(nil), Scopes...),
		ScopeSeparator:       " ",
		AuthStyle:            providers.AuthStyleBody,
		PKCE:                 &pkce,
		Inject:               &providers.Inject{Type: providers.InjectBearer},
		RotatesRefreshTokens: &rotates,
		KeepAlive:            &keepAlive,
		Events:               "google",
	}
}

// Provider is Spec resolved, ready for the broker's registry. It is built
// here rather than by providers.Resolve: its URLs are the broker's own
// (plain http on a development publicUrl), and the broker reaches them
// in-process through Transport, never over the network.
func (s *Server) Provider() *providers.Provider {
	return &providers.Provider{ID: ProviderID, Spec: s.Spec()}
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("demo: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// key is what a token is filed under: its hash, so the tables never hold a
// usable token.
func key(token string) string {
	h := sha256.Sum256([]byte(token))
	return string(h[:])
}
