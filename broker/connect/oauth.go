package connect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/providers"
)

// maxCallbackQuery bounds the callback's query string before it is parsed
// (docs/security.md §19); a real one (code, state, iss, scope) is well under.
const maxCallbackQuery = 8 << 10

// cookiePrefix names the browser-binding cookie; the session id follows, so
// flows started in several tabs do not overwrite each other's binding.
const cookiePrefix = "broker_bind_"

// OAuthRequest is the body of POST /v1/connect/oauth.
type OAuthRequest struct {
	ProviderID  string
	ScheduleID  string
	RedirectURL string
	// Scopes are asked for in addition to the provider's default scopes (or
	// the app's own client's scopes): the broker's defaults are what it
	// needs to read the account and serve events, so an app may only add.
	// The provider decides; one it refuses ends as ?error=unsupported.
	Scopes    []string
	LoginHint string
	AppState  string
}

// OAuthStart is the answer to POST /v1/connect/oauth.
type OAuthStart struct {
	OAuthURL  string
	ExpiresAt time.Time
}

// StartOAuth checks an app's request and creates the flow's auth session.
// The returned URL carries only the session id: the signed state is made
// when the browser arrives at /oauth/start, so it never passes through the
// app.
func (s *Service) StartOAuth(ctx context.Context, app *model.App, req OAuthRequest) (OAuthStart, error) {
	p, err := s.provider(req.ProviderID, providers.KindOAuth2)
	if err != nil {
		return OAuthStart{}, err
	}
	if err := CheckScheduleID(req.ScheduleID); err != nil {
		return OAuthStart{}, err
	}
	if err := ValidateRedirectURL(app, req.RedirectURL); err != nil {
		return OAuthStart{}, err
	}
	if err := checkScopes(req.Scopes, p.ScopeSeparator); err != nil {
		return OAuthStart{}, err
	}
	if err := checkText("loginHint", req.LoginHint, MaxLoginHintLen, false); err != nil {
		return OAuthStart{}, err
	}
	if err := checkText("appState", req.AppState, MaxAppStateLen, false); err != nil {
		return OAuthStart{}, err
	}
	_, src, err := s.oauthClient(ctx, app.ID, p)
	if err != nil {
		return OAuthStart{}, err
	}
	base := p.Scopes
	if src == model.ClientApp {
		if ap, err := s.st.GetAppProvider(ctx, app.ID, p.ID); err == nil && len(ap.Scopes) > 0 {
			base = ap.Scopes
		}
	}
	now := s.now()
	sess := model.AuthSession{
		ID:           model.NewID(model.PrefixSession),
		AppID:        app.ID,
		ProviderID:   p.ID,
		ScheduleID:   req.ScheduleID,
		RedirectURL:  req.RedirectURL,
		AppState:     req.AppState,
		Scopes:       union(base, req.Scopes),
		LoginHint:    req.LoginHint,
		ClientSource: src,
		ExpiresAt:    now.Add(SessionTTL),
		CreatedAt:    now,
	}
	if p.UsesPKCE() {
		sess.PKCEVerifier = oauth2.GenerateVerifier()
	}
	if err := s.createSession(ctx, sess, SessionTTL); err != nil {
		return OAuthStart{}, fmt.Errorf("connect: creating the auth session: %w", err)
	}
	return OAuthStart{OAuthURL: s.base + "/oauth/start/" + sess.ID, ExpiresAt: sess.ExpiresAt}, nil
}

// Start serves GET /oauth/start/{sessionId}: it binds the flow to this
// browser (a random nonce in an HttpOnly cookie, its hash in the session;
// a session binds once) and sends the browser to the provider.
func (s *Service) Start(w http.ResponseWriter, r *http.Request, sessionID string) {
	ctx := r.Context()
	now := s.now()
	if !validSessionID(sessionID) {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	sess, err := s.st.GetAuthSession(ctx, sessionID, now)
	if err != nil {
		s.storeErrorPage(w, err)
		return
	}
	if len(sess.BindingHash) > 0 {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	p, err := s.provider(sess.ProviderID, providers.KindOAuth2)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	client, err := s.tok.ClientFor(ctx, sess.AppID, p, sess.ClientSource)
	if err != nil {
		s.log.WarnContext(ctx, "oauth start: no client", "provider", p.ID, "app", sess.AppID, "err", err)
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	nonce, hash := newNonce()
	if err := s.st.BindAuthSession(ctx, sess.ID, hash, now); err != nil {
		s.storeErrorPage(w, err)
		return
	}
	st, err := s.signer.Sign(state.Claims{SessionID: sess.ID, Provider: p.ID, App: sess.AppID})
	if err != nil {
		s.log.ErrorContext(ctx, "oauth start: signing state", "err", err)
		s.errorPage(w, http.StatusInternalServerError, pageFailed)
		return
	}
	authURL := p.AuthCodeURL(client, s.callback, st, providers.AuthOptions{
		Scopes: sess.Scopes, Verifier: sess.PKCEVerifier, LoginHint: sess.LoginHint,
	})
	http.SetCookie(w, &http.Cookie{
		Name: cookiePrefix + sess.ID, Value: nonce, Path: s.cookie,
		MaxAge: max(1, int(sess.ExpiresAt.Sub(now)/time.Second)), HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	seeOther(w, authURL)
}

// Callback serves GET /oauth/callback. The order matters: nothing is done
// for a state that does not verify; a verified state spends its session
// before anything else is checked, so a failed check cannot be retried; the
// token endpoint is called only for the session's own provider and client.
func (s *Service) Callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if len(r.URL.RawQuery) > maxCallbackQuery {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["state"]) != 1 || len(q["code"]) > 1 || len(q["error"]) > 1 || len(q["iss"]) > 1 {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	claims, err := s.signer.Verify(q.Get("state"))
	if err != nil {
		s.log.InfoContext(ctx, "oauth callback: state refused", "reason", err)
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	sess, err := s.st.ConsumeAuthSession(ctx, claims.SessionID, s.now())
	if err != nil {
		s.storeErrorPage(w, err)
		return
	}
	s.clearCookie(w, sess.ID)
	if sess.AppID != claims.App || sess.ProviderID != claims.Provider || !s.boundToThisBrowser(r, sess) {
		s.log.WarnContext(ctx, "oauth callback: not the browser that started the flow", "session", sess.ID, "app", sess.AppID)
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	p, err := s.provider(sess.ProviderID, providers.KindOAuth2)
	if err != nil {
		s.redirectBack(w, sess, url.Values{"error": {providers.OutcomeInternal}})
		return
	}
	if iss, ok := q["iss"]; ok && p.Issuer != "" && iss[0] != p.Issuer {
		s.log.WarnContext(ctx, "oauth callback: iss mismatch", "session", sess.ID, "provider", p.ID)
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	if e := q.Get("error"); e != "" {
		out := p.CallbackOutcome(e, q.Get("error_description"))
		s.log.InfoContext(ctx, "oauth callback: provider error", "session", sess.ID, "provider", p.ID, "outcome", out)
		s.redirectBack(w, sess, url.Values{"error": {out}})
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > MaxCodeLen {
		s.redirectBack(w, sess, url.Values{"error": {providers.OutcomeReject}})
		return
	}
	conn, err := s.exchangeAndSave(ctx, exchange{
		appID: sess.AppID, provider: p, scheduleID: sess.ScheduleID, source: sess.ClientSource,
		redirectURI: s.callback, code: code, verifier: sess.PKCEVerifier, scopes: sess.Scopes,
	})
	if err != nil {
		s.log.WarnContext(ctx, "oauth callback: connecting failed", "session", sess.ID, "provider", p.ID, "err", err)
		s.redirectBack(w, sess, url.Values{"error": {providers.OutcomeInternal}})
		return
	}
	s.log.InfoContext(ctx, "oauth callback: connected", "session", sess.ID, "provider", p.ID, "connection", conn.ID)
	s.redirectBack(w, sess, url.Values{"connectionId": {conn.ID}})
}

func (s *Service) boundToThisBrowser(r *http.Request, sess model.AuthSession) bool {
	if len(sess.BindingHash) == 0 {
		return false
	}
	c, err := r.Cookie(cookiePrefix + sess.ID)
	if err != nil || c.Value == "" {
		return false
	}
	h := sha256.Sum256([]byte(c.Value))
	return subtle.ConstantTimeCompare(h[:], sess.BindingHash) == 1
}

func (s *Service) clearCookie(w http.ResponseWriter, sessionID string) {
	http.SetCookie(w, &http.Cookie{
		Name: cookiePrefix + sessionID, Value: "", Path: s.cookie, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// redirectBack sends the browser to the session's redirect URL with the
// outcome appended to the app's own query (kept byte for byte), and the
// app's state echoed.
func (s *Service) redirectBack(w http.ResponseWriter, sess model.AuthSession, v url.Values) {
	// Every flow that reaches the app ends here, so it is counted here.
	result := v.Get("error")
	if v.Get("connectionId") != "" {
		result = telemetry.ConnectConnected
	}
	provider := sess.ProviderID
	if provider == "" {
		provider = "none" // a hosted page given up before a provider was picked
	}
	s.metrics.Connect(context.Background(), provider, result)
	if sess.AppState != "" {
		v.Set("appState", sess.AppState)
	}
	u, err := url.Parse(sess.RedirectURL)
	if err != nil { // validated when the session was made; never expected
		s.errorPage(w, http.StatusInternalServerError, pageFailed)
		return
	}
	if u.RawQuery == "" {
		u.RawQuery = v.Encode()
	} else {
		u.RawQuery += "&" + v.Encode()
	}
	seeOther(w, u.String())
}

// seeOther answers 303 with the headers docs/security.md §6 asks for.
func seeOther(w http.ResponseWriter, location string) {
	h := w.Header()
	h.Set("Location", location)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusSeeOther)
}

func (s *Service) storeErrorPage(w http.ResponseWriter, err error) {
	if errors.Is(err, model.ErrNotFound) || errors.Is(err, model.ErrConflict) {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	s.log.Error("oauth: auth session store", "err", err)
	s.errorPage(w, http.StatusServiceUnavailable, pageFailed)
}

// newNonce returns a 256-bit random cookie value and its SHA-256.
func newNonce() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("connect: crypto/rand failed: " + err.Error())
	}
	n := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(n))
	return n, h[:]
}

// validSessionID accepts what model.NewID makes: ses_ + lower-case base32.
func validSessionID(id string) bool {
	const prefix = model.PrefixSession + "_"
	if len(id) <= len(prefix) || len(id) > 64 || id[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
