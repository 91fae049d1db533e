package providertest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

// Defaults used when Options leaves a field empty.
const (
	DefaultClientID     = "fake-client-id"
	DefaultClientSecret = "fake-client-secret"
	DefaultUser         = "user@example.com"
)

// Options configure a fake provider.
type Options struct {
	// Wire is the provider's wire format; nil is Standard (plain RFC 6749).
	// A room's test package sets it (googletest.New, …).
	Wire         Wire
	ClientID     string // default DefaultClientID
	ClientSecret string // default DefaultClientSecret
	// RequirePKCE: /authorize refuses a request without an S256
	// code_challenge. A challenge that is sent is always verified.
	RequirePKCE bool
	// RotateRefreshTokens: every refresh returns a new refresh token and the
	// used one dies at once (single use, as Zoom). Without it a refresh
	// response carries no refresh_token.
	RotateRefreshTokens bool
	// TokenLifetime of access tokens; 0 omits expires_in (as Cal.com) and
	// access tokens never go stale on their own.
	TokenLifetime time.Duration
	// Issuer is sent as `iss` on the authorization response when set.
	Issuer string
	// OpenAPI: the echo API answers without checking a credential.
	OpenAPI bool
}

// Server is one fake provider. All methods are safe for concurrent use.
type Server struct {
	URL string // base URL, http://127.0.0.1:port

	o    Options
	wire Wire
	srv  *httptest.Server

	tokenCalls, refreshCalls, revokeCalls, authorizeCalls, apiCalls, userInfoCalls atomic.Int64

	mu        sync.Mutex
	lifetime  time.Duration
	codes     map[string]*authCode
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	consented map[string]bool // users who consented once (Policy.RefreshTokenOnFirstConsent)
	userIDs   map[string]int
	revoked   map[string]bool // tokens named at /revoke
	failures  []refreshFailure
	nextAuth  *authFailure
}

type authCode struct {
	clientID, redirectURI, challenge, user, scope string
	forceRefresh                                  bool // prompt=consent: Google returns a refresh token again
	used                                          bool
}

type accessToken struct {
	user, scope string
	expiry      time.Time // zero: never stale on its own
	refresh     string    // the refresh token it came from, for revocation
	dead        bool
}

type refreshToken struct {
	user, scope string
	dead        bool
}

type refreshFailure struct {
	code   string // an OAuth error code rendered in the quirk's wire format
	status int    // or a bare HTTP status
}

type authFailure struct{ code, desc string }

// New starts a fake provider, closed when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.Wire == nil {
		o.Wire = Standard{}
	}
	s := &Server{
		o:         o,
		wire:      o.Wire,
		lifetime:  o.TokenLifetime,
		codes:     map[string]*authCode{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
		consented: map[string]bool{},
		userIDs:   map[string]int{},
		revoked:   map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", s.handleAuthorize)
	mux.HandleFunc("/token", s.handleToken)
	mux.HandleFunc("/revoke", s.handleRevoke)
	mux.HandleFunc("/userinfo", s.handleUserInfo)
	mux.HandleFunc("/api/", s.handleAPI)
	if r, ok := o.Wire.(Router); ok {
		r.Routes(s, mux)
	}
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server early (it is closed at test cleanup anyway).
func (s *Server) Close() { s.srv.Close() }

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.o }

// TokenCalls counts every hit of a token endpoint (/token and /refresh).
func (s *Server) TokenCalls() int { return int(s.tokenCalls.Load()) }

// RefreshCalls counts refresh_token grants, at /token or /refresh.
func (s *Server) RefreshCalls() int { return int(s.refreshCalls.Load()) }

// RevokeCalls counts hits of /revoke.
func (s *Server) RevokeCalls() int { return int(s.revokeCalls.Load()) }

// AuthorizeCalls counts hits of /authorize.
func (s *Server) AuthorizeCalls() int { return int(s.authorizeCalls.Load()) }

// APICalls counts hits of the echo API under /api/.
func (s *Server) APICalls() int { return int(s.apiCalls.Load()) }

// UserInfoCalls counts hits of /userinfo.
func (s *Server) UserInfoCalls() int { return int(s.userInfoCalls.Load()) }

// FailNextRefresh makes the next refresh fail with that OAuth error code,
// written in the Wire's format (a Wire may render "invalid_grant" in the
// provider's own words).
func (s *Server) FailNextRefresh(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, refreshFailure{code: code})
}

// FailNextRefreshStatus makes the next refresh answer that bare HTTP status
// (503, 429, ...) with an HTML body, as a load balancer would.
func (s *Server) FailNextRefreshStatus(status int) { s.FailRefreshes(status, 1) }

// FailRefreshes makes the next n refreshes answer that HTTP status.
func (s *Server) FailRefreshes(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, refreshFailure{status: status})
	}
}

// ClearFailures drops every pending refresh failure.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// FailNextAuthorize makes the next /authorize redirect back with
// error=code (and error_description=desc when set) instead of a code. An
// empty code returns with neither code nor error, as Cal.com's "Go back".
func (s *Server) FailNextAuthorize(code, desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextAuth = &authFailure{code: code, desc: desc}
}

// SetTokenLifetime changes the lifetime of access tokens issued from now on
// (0 omits expires_in).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// ExpireAccessTokens makes every access token issued so far stale: the API
// and user info answer 401 to them.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.access {
		a.dead = true
	}
}

// Invalidate kills one access or refresh token at the provider, as a user
// revoking access in the provider's settings would: the API answers 401 and
// a refresh fails with the Wire's invalid_grant.
func (s *Server) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill(token)
}

// Revoked reports whether the token was named at /revoke.
func (s *Server) Revoked(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[token]
}

// AccessTokenValid reports whether the API would accept the access token.
func (s *Server) AccessTokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.validAccess(token)
	return ok
}

// Mint issues a fresh access and refresh token for user (an email; ""
// means DefaultUser) without the authorize flow, to seed a connection.
func (s *Server) Mint(user string) model.Token {
	if user == "" {
		user = DefaultUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userID(user)
	rt := s.newRefresh(user, "")
	at, exp := s.newAccess(user, "", rt)
	return model.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: exp}
}

// kill marks an access or refresh token dead; killing a refresh token also
// kills the access tokens minted from it (Google's revocation semantics).
// Callers hold mu.
func (s *Server) kill(token string) {
	if a, ok := s.access[token]; ok {
		a.dead = true
	}
	if r, ok := s.refresh[token]; ok {
		r.dead = true
		for _, a := range s.access {
			if a.refresh == token {
				a.dead = true
			}
		}
	}
}

// validAccess returns the live access token. Callers hold mu.
func (s *Server) validAccess(token string) (*accessToken, bool) {
	a, ok := s.access[token]
	if !ok || a.dead || (!a.expiry.IsZero() && time.Now().After(a.expiry)) {
		return nil, false
	}
	return a, true
}

// newAccess issues an access token. Callers hold mu.
func (s *Server) newAccess(user, scope, fromRefresh string) (string, time.Time) {
	tok := "at_" + randomHex()
	var exp time.Time
	if s.lifetime > 0 {
		exp = time.Now().Add(s.lifetime)
	}
	s.access[tok] = &accessToken{user: user, scope: scope, expiry: exp, refresh: fromRefresh}
	return tok, exp
}

// newRefresh issues a refresh token. Callers hold mu.
func (s *Server) newRefresh(user, scope string) string {
	tok := "rt_" + randomHex()
	s.refresh[tok] = &refreshToken{user: user, scope: scope}
	return tok
}

// userID gives each user a stable number. Callers hold mu.
func (s *Server) userID(user string) int {
	id, ok := s.userIDs[user]
	if !ok {
		id = 1000 + len(s.userIDs)
		s.userIDs[user] = id
	}
	return id
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AccountID is the account id the fake reports for user.
func (s *Server) AccountID(user string) string {
	if user == "" {
		user = DefaultUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wire.AccountID(s.userID(user))
}

// displayName turns an email into a name: "alice@x" → "Alice Example".
func displayName(user string) (first, last string) {
	local, _, _ := strings.Cut(user, "@")
	if local == "" {
		return "Test", "User"
	}
	return strings.ToUpper(local[:1]) + local[1:], "Example"
}
