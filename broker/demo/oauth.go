package demo

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Bounds of what the authorize and token endpoints accept.
const (
	maxStateLen = 4096
	maxFormBody = 64 << 10
)

// authRequest is an authorize request waiting for Allow or Deny.
type authRequest struct {
	redirectURI, state, challenge string
	scopes                        []string
}

// grant is what a code, access token or refresh token stands for. family
// ties every token issued from one authorization together, so a replayed
// refresh token can revoke all of them.
type grant struct {
	scopes      []string
	family      string
	challenge   string // codes only
	redirectURI string // codes only
}

// authorizePage is GET /demo/authorize. A request that names another client
// or redirect URI gets an error page and no redirect (RFC 6749 §4.1.2.1):
// the demo only ever sends codes to the broker's own callback.
func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != ClientID || q.Get("redirect_uri") != s.callback {
		s.page(w, http.StatusBadRequest, pageData{Title: "This sign-in request is not valid",
			Message: "It does not come from this broker. Start again from the app."})
		return
	}
	state := q.Get("state")
	if len(state) > maxStateLen {
		s.page(w, http.StatusBadRequest, pageData{Title: "This sign-in request is not valid",
			Message: "Its state parameter is too long. Start again from the app."})
		return
	}
	fail := func(code string) { s.redirectWith(w, s.callback, url.Values{"error": {code}, "state": {state}}) }
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	challenge := q.Get("code_challenge")
	if q.Get("code_challenge_method") != "S256" || len(challenge) != 43 {
		fail("invalid_request") // PKCE S256 is required
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if len(scopes) == 0 {
		scopes = Scopes
	}
	for _, sc := range scopes {
		if !slices.Contains(Scopes, sc) {
			fail("invalid_scope")
			return
		}
	}
	id := randomToken()
	s.requests.put(id, authRequest{redirectURI: s.callback, state: state, challenge: challenge, scopes: scopes})
	s.page(w, http.StatusOK, pageData{Title: "Allow access to your demo calendar?", Request: id,
		Scopes: scopes, Account: Account.Name + " <" + Account.Email + ">"})
}

// authorizeDecision is POST /demo/authorize: Allow answers with a code,
// Deny with access_denied. The pending request is spent either way, so the
// form works once.
func (s *Server) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.page(w, http.StatusBadRequest, pageData{Title: "This sign-in request is not valid", Message: "Start again from the app."})
		return
	}
	req, ok := s.requests.take(r.PostForm.Get("request"))
	if !ok {
		s.page(w, http.StatusBadRequest, pageData{Title: "This sign-in request has expired",
			Message: "It was already answered or is older than ten minutes. Start again from the app."})
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		s.redirectWith(w, req.redirectURI, url.Values{"error": {"access_denied"}, "state": {req.state}, "iss": {s.base}})
		return
	}
	code := randomToken()
	s.codes.put(key(code), grant{scopes: req.scopes, family: randomToken(), challenge: req.challenge, redirectURI: req.redirectURI})
	s.redirectWith(w, req.redirectURI, url.Values{"code": {code}, "state": {req.state}, "iss": {s.base}})
}

// token is POST /demo/token (RFC 6749 §4.1.3 and §6).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="demo"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch f.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes.take(key(f.Get("code")))
		if !ok || f.Get("redirect_uri") != g.redirectURI || !pkceMatches(f.Get("code_verifier"), g.challenge) {
			tokenError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		s.issue(w, grant{scopes: g.scopes, family: g.family})
	case "refresh_token":
		rt := key(f.Get("refresh_token"))
		g, ok := s.refresh.take(rt)
		if !ok {
			if family, reused := s.used.get(rt); reused {
				s.revoked.put(family, true)
			}
			tokenError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		if _, gone := s.revoked.get(g.family); gone {
			tokenError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		s.used.put(rt, g.family)
		s.issue(w, g)
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

// issue answers a new access token and a new refresh token for g.
func (s *Server) issue(w http.ResponseWriter, g grant) {
	at, rt := randomToken(), randomToken()
	s.access.put(key(at), g)
	s.refresh.put(key(rt), g)
	noStore(w)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": int(s.accessTTL.Seconds()),
		"refresh_token": rt, "scope": strings.Join(g.scopes, " "),
	})
}

// userinfo is GET /demo/userinfo, OpenID Connect's shape.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.bearer(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": Account.ID, "email": Account.Email, "email_verified": true, "name": Account.Name,
	})
}

// bearer returns the live grant of the request's access token.
func (s *Server) bearer(r *http.Request) (grant, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return grant{}, false
	}
	g, ok := s.access.get(key(strings.TrimSpace(h[7:])))
	if !ok {
		return grant{}, false
	}
	if _, gone := s.revoked.get(g.family); gone {
		return grant{}, false
	}
	return g, true
}

func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	h := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(h[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// redirectWith sends the browser to target with v added to its query: 303,
// no caching, no referrer (the query holds a code).
func (s *Server) redirectWith(w http.ResponseWriter, target string, v url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		s.page(w, http.StatusInternalServerError, pageData{Title: "Something went wrong"})
		return
	}
	q := u.Query()
	for k, vs := range v {
		if len(vs) > 0 && vs[0] != "" {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	noStore(w)
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusSeeOther)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	noStore(w)
	writeJSON(w, status, map[string]string{"error": code})
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
