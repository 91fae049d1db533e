package providertest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"
)

// handleAuthorize auto-approves: it checks the request the way a provider
// does (unknown client or missing redirect_uri is an error page, never a
// redirect), then sends the browser back with a code, or with an error
// when a switch or login_hint=deny asks for one.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.authorizeCalls.Add(1)
	q := r.URL.Query()
	if q.Get("client_id") != s.o.ClientID {
		http.Error(w, "The OAuth client was not found.", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("redirect_uri") == "" || err != nil || !back.IsAbs() {
		http.Error(w, "Missing or invalid redirect_uri.", http.StatusBadRequest)
		return
	}
	redirect := func(params url.Values) {
		if st := q.Get("state"); st != "" {
			params.Set("state", st)
		}
		if s.o.Issuer != "" {
			params.Set("iss", s.o.Issuer) // RFC 9207, on errors too
		}
		bq := back.Query()
		for k, v := range params {
			bq[k] = v
		}
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	failWith := func(code, desc string) {
		v := url.Values{}
		if code != "" {
			v.Set("error", code)
		}
		if desc != "" {
			v.Set("error_description", desc)
		}
		redirect(v)
	}

	s.mu.Lock()
	fail := s.nextAuth
	s.nextAuth = nil
	s.mu.Unlock()
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case fail != nil:
		failWith(fail.code, fail.desc)
		return
	case q.Get("response_type") != "code":
		failWith("unsupported_response_type", "Only the code flow is supported.")
		return
	case q.Get("login_hint") == "deny":
		failWith("access_denied", "The user denied access.")
		return
	case challenge != "" && method != "S256":
		failWith("invalid_request", "Only S256 code challenges are supported.")
		return
	case challenge == "" && s.o.RequirePKCE:
		failWith("invalid_request", "code_challenge is required.")
		return
	}
	user := q.Get("login_hint")
	if user == "" {
		user = DefaultUser
	}
	code := "code_" + randomHex()
	s.mu.Lock()
	s.userID(user)
	s.codes[code] = &authCode{
		clientID: s.o.ClientID, redirectURI: q.Get("redirect_uri"), challenge: challenge,
		user: user, scope: q.Get("scope"), forceRefresh: q.Get("prompt") == "consent",
	}
	s.mu.Unlock()
	redirect(url.Values{"code": {code}})
}

// handleToken is the token endpoint: authorization_code and refresh_token
// grants, client authentication as the quirk demands.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.tokenCalls.Add(1)
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	form, err := s.ReadForm(r)
	if err != nil {
		s.fail(w, FailRequest, "The request body could not be parsed.")
		return
	}
	if !s.clientOK(r, form) {
		s.fail(w, FailClient, "")
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		s.exchange(w, form)
	case "refresh_token":
		if s.wire.Policy().NoRefreshAtTokenEndpoint {
			s.fail(w, FailCustom, "unsupported_grant_type")
			return
		}
		s.RefreshGrant(w, form.Get("refresh_token"))
	default:
		s.fail(w, FailCustom, "unsupported_grant_type")
	}
}

// fail writes a token error in the Wire's format.
func (s *Server) fail(w http.ResponseWriter, k FailKind, detail string) {
	s.wire.WriteTokenError(w, tokenError(k, detail))
}

// CountTokenCall counts a hit of a token endpoint of a Router's own.
func (s *Server) CountTokenCall() { s.tokenCalls.Add(1) }

func (s *Server) exchange(w http.ResponseWriter, form url.Values) {
	s.mu.Lock()
	c := s.codes[form.Get("code")]
	var fail FailKind = -1
	switch {
	case c == nil:
		fail = FailCode
	case c.used:
		fail = FailRedeemed
	case form.Get("redirect_uri") != c.redirectURI:
		fail = FailRedirect
	case c.challenge != "" && !verifierMatches(form.Get("code_verifier"), c.challenge):
		fail = FailPKCE
	}
	if c != nil {
		c.used = true // one attempt per code, as real providers do
	}
	if fail >= 0 {
		s.mu.Unlock()
		s.fail(w, fail, "")
		return
	}
	giveRefresh := true
	if s.wire.Policy().RefreshTokenOnFirstConsent {
		giveRefresh = !s.consented[c.user] || c.forceRefresh
		s.consented[c.user] = true
	}
	var rt string
	if giveRefresh {
		rt = s.newRefresh(c.user, c.scope)
	}
	at, _ := s.newAccess(c.user, c.scope, rt)
	body := s.tokenBody(at, rt, c.scope)
	s.mu.Unlock()
	WriteJSON(w, http.StatusOK, body)
}

// RefreshGrant answers a refresh_token grant for rt, at /token or at a
// Router's own endpoint; failures queued by FailNextRefresh come first.
func (s *Server) RefreshGrant(w http.ResponseWriter, rt string) {
	s.refreshCalls.Add(1)
	s.mu.Lock()
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		s.mu.Unlock()
		if f.status != 0 {
			writeBareStatus(w, f.status)
		} else {
			s.fail(w, FailCustom, f.code)
		}
		return
	}
	old := s.refresh[rt]
	if old == nil || old.dead {
		s.mu.Unlock()
		s.fail(w, FailGrant, "")
		return
	}
	newRT, live := "", rt
	if s.o.RotateRefreshTokens {
		old.dead = true
		newRT = s.newRefresh(old.user, old.scope)
		live = newRT
	}
	at, _ := s.newAccess(old.user, old.scope, live)
	body := s.tokenBody(at, newRT, old.scope)
	s.mu.Unlock()
	WriteJSON(w, http.StatusOK, body)
}

// tokenBody is a successful token response in the Wire's shape. Callers
// hold mu.
func (s *Server) tokenBody(at, rt, scope string) map[string]any {
	b := map[string]any{"access_token": at, "token_type": "Bearer", "scope": scope}
	if rt != "" {
		b["refresh_token"] = rt
	}
	if s.lifetime > 0 {
		b["expires_in"] = int(s.lifetime / time.Second)
	}
	s.wire.TokenResponse(b, s.lifetime)
	return b
}

// handleRevoke revokes an access or refresh token (RFC 7009 body), with
// Basic client authentication when the Policy demands it; the Wire words
// the answer.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	s.revokeCalls.Add(1)
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, FailRequest, "The request body could not be parsed.")
		return
	}
	if s.wire.Policy().ClientAuthBasic && !s.basicClientOK(r) {
		s.fail(w, FailClient, "")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		s.fail(w, FailRequest, "token is required.")
		return
	}
	s.mu.Lock()
	_, okA := s.validAccess(token)
	rt, okR := s.refresh[token]
	known := okA || (okR && !rt.dead)
	s.revoked[token] = true
	s.kill(token)
	s.mu.Unlock()
	s.wire.WriteRevoked(w, known)
}

// ReadForm reads a token request body: form-encoded, or JSON when the
// Policy allows it.
func (s *Server) ReadForm(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" && s.wire.Policy().JSONBodies {
		var m map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
			return nil, err
		}
		v := url.Values{}
		for k, x := range m {
			v.Set(k, fmt.Sprint(x))
		}
		return v, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// clientOK checks client authentication: HTTP Basic only when the Policy
// says so, else the request body.
func (s *Server) clientOK(r *http.Request, form url.Values) bool {
	if s.wire.Policy().ClientAuthBasic {
		return s.basicClientOK(r)
	}
	return s.ClientInBody(form)
}

// ClientInBody reports whether form carries the fake's client id and secret.
func (s *Server) ClientInBody(form url.Values) bool {
	return form.Get("client_id") == s.o.ClientID && secretEqual(form.Get("client_secret"), s.o.ClientSecret)
}

func (s *Server) basicClientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return err1 == nil && err2 == nil && id == s.o.ClientID && secretEqual(secret, s.o.ClientSecret)
}

func secretEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func verifierMatches(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return secretEqual(base64.RawURLEncoding.EncodeToString(sum[:]), challenge)
}
