package connect

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
)

// PageTTL is how long a hosted connect page stays usable: longer than an
// OAuth flow, since the end user may first read the page and type a
// password. Picking an OAuth provider starts an ordinary flow of
// SessionTTL. It is fixed, not configured.
const PageTTL = 30 * time.Minute

// MaxPageProviders bounds the providers list of POST /v1/connect/sessions.
const MaxPageProviders = 20

// pageCookiePrefix names the cookie that binds a hosted page to the first
// browser that opened it; the session id follows.
const pageCookiePrefix = "broker_page_"

// maxPageForm bounds a form posted to the hosted page.
const maxPageForm = 64 << 10

// PageRequest is the body of POST /v1/connect/sessions.
type PageRequest struct {
	ScheduleID  string
	RedirectURL string
	// Providers the page offers, in this order; empty: every provider
	// offered to the app.
	Providers []string
	AppState  string
}

// PageStart is the answer to POST /v1/connect/sessions.
type PageStart struct {
	ConnectURL string
	ExpiresAt  time.Time
}

// A hosted page is an AuthSession without a provider (the end user picks
// one): its Scopes field holds the ids of the providers the page offers.
// /oauth/start and the callback refuse such a session, since it names no
// provider.
func isPageSession(a model.AuthSession) bool { return a.ProviderID == "" }

// StartPage checks an app's request for a hosted connect page and stores
// its single-use session.
func (s *Service) StartPage(ctx context.Context, app *model.App, req PageRequest) (PageStart, error) {
	if err := CheckScheduleID(req.ScheduleID); err != nil {
		return PageStart{}, err
	}
	if err := ValidateRedirectURL(app, req.RedirectURL); err != nil {
		return PageStart{}, err
	}
	if err := checkText("appState", req.AppState, MaxAppStateLen, false); err != nil {
		return PageStart{}, err
	}
	if len(req.Providers) > MaxPageProviders {
		return PageStart{}, model.Invalid("providers", "at most %d entries, got %d", MaxPageProviders, len(req.Providers))
	}
	offered, err := s.Offered(ctx, app.ID)
	if err != nil {
		return PageStart{}, err
	}
	var ids []string
	if len(req.Providers) == 0 {
		for _, p := range offered {
			ids = append(ids, p.ID)
		}
	}
	for i, id := range req.Providers {
		if !slices.ContainsFunc(offered, func(p *providers.Provider) bool { return p.ID == id }) {
			return PageStart{}, model.Invalid(fmt.Sprintf("providers[%d]", i), "unknown provider, or not offered to this app")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return PageStart{}, model.Invalid("providers", "no provider is offered to this app")
	}
	now := s.now()
	sess := model.AuthSession{
		ID: model.NewID(model.PrefixSession), AppID: app.ID, ScheduleID: req.ScheduleID,
		RedirectURL: req.RedirectURL, AppState: req.AppState, Scopes: ids,
		ClientSource: model.ClientNone, ExpiresAt: now.Add(PageTTL), CreatedAt: now,
	}
	if err := s.createSession(ctx, sess, PageTTL); err != nil {
		return PageStart{}, fmt.Errorf("connect: creating the connect page session: %w", err)
	}
	return PageStart{ConnectURL: s.base + "/connect/" + sess.ID, ExpiresAt: sess.ExpiresAt}, nil
}

// Page serves GET /connect/{sessionId}: the first browser to open it is
// bound to it (an HttpOnly cookie, its hash in the session), and only that
// browser may use it. ?provider= shows that provider's credentials form.
func (s *Service) Page(w http.ResponseWriter, r *http.Request, sessionID string) {
	ctx := r.Context()
	sess, ok := s.pageSession(w, r, sessionID, true)
	if !ok {
		return
	}
	v, err := s.pageView(ctx, sess)
	if err != nil {
		s.log.WarnContext(ctx, "connect page", "session", sess.ID, "err", err)
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	nonce, _ := s.pageNonce(r, sess)
	v.CSRF = csrfToken(nonce, sess.ID)
	if id := r.URL.Query().Get("provider"); id != "" {
		if !v.selectForm(id) {
			s.errorPage(w, http.StatusNotFound, pageInvalid)
			return
		}
	}
	s.renderPage(w, http.StatusOK, v)
}

// PagePost serves POST /connect/{sessionId}: the end user's choice. An
// OAuth provider spends the page and starts its flow; credentials are
// verified first, so a wrong password shows the form again with the page
// still usable, and the page is spent only once they work.
func (s *Service) PagePost(w http.ResponseWriter, r *http.Request, sessionID string) {
	ctx := r.Context()
	if !s.sameOrigin(r) {
		s.errorPage(w, http.StatusForbidden, pageInvalid)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPageForm)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	sess, ok := s.pageSession(w, r, sessionID, false)
	if !ok {
		return
	}
	if !s.csrfMatches(r, sess) {
		s.log.WarnContext(ctx, "connect page: CSRF token mismatch", "session", sess.ID)
		s.errorPage(w, http.StatusForbidden, pageInvalid)
		return
	}
	v, err := s.pageView(ctx, sess)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	nonce, _ := s.pageNonce(r, sess)
	v.CSRF = csrfToken(nonce, sess.ID)
	f := r.PostForm
	choice := v.find(f.Get("provider"))
	if choice == nil {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	if choice.OAuth {
		s.pagePickOAuth(w, r, sess, &v.app, choice.ID)
		return
	}
	p, err := s.provider(choice.ID, providers.KindAPIKey, providers.KindBasic)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return
	}
	if !s.tries.take(sess.ID) {
		// Too many tries: the page is spent here, so on every replica.
		s.log.WarnContext(ctx, "connect page: too many credentials attempts; the page is spent", "session", sess.ID, "provider", p.ID)
		if _, err := s.st.ConsumeAuthSession(ctx, sess.ID, s.now()); err != nil && !errors.Is(err, model.ErrNotFound) && !errors.Is(err, model.ErrConflict) {
			s.storeErrorPage(w, err)
			return
		}
		s.clearPageCookie(w, sess.ID)
		s.errorPage(w, http.StatusTooManyRequests, pageAttempts)
		return
	}
	creds := Credentials{APIKey: f.Get("apiKey"), Username: f.Get("username"), Password: f.Get("password")}
	checked, err := s.verifyCredentials(ctx, p, creds)
	if err != nil {
		v.selectForm(choice.ID)
		v.Form.Username = creds.Username // kept; a password or key is never sent back
		status, msg := credentialsError(err, p)
		if status >= 500 {
			s.log.WarnContext(ctx, "connect page: credentials test failed", "session", sess.ID, "provider", p.ID, "err", err)
		}
		v.Form.Error = msg
		s.renderPage(w, status, v)
		return
	}
	if _, err := s.st.ConsumeAuthSession(ctx, sess.ID, s.now()); err != nil {
		s.storeErrorPage(w, err) // spent by a concurrent submit
		return
	}
	s.clearPageCookie(w, sess.ID)
	conn, err := s.saveCredentials(ctx, sess.AppID, sess.ScheduleID, checked)
	if err != nil {
		s.log.ErrorContext(ctx, "connect page: saving the connection", "session", sess.ID, "err", err)
		s.redirectBack(w, sess, url.Values{"error": {providers.OutcomeInternal}})
		return
	}
	s.log.InfoContext(ctx, "connect page: connected", "session", sess.ID, "provider", p.ID, "connection", conn.ID)
	s.redirectBack(w, sess, url.Values{"connectionId": {conn.ID}})
}

// pagePickOAuth spends the page and starts an ordinary OAuth flow for the
// same schedule, redirect URL and app state, through /oauth/start.
func (s *Service) pagePickOAuth(w http.ResponseWriter, r *http.Request, sess model.AuthSession, app *model.App, providerID string) {
	ctx := r.Context()
	if _, err := s.st.ConsumeAuthSession(ctx, sess.ID, s.now()); err != nil {
		s.storeErrorPage(w, err)
		return
	}
	s.clearPageCookie(w, sess.ID)
	start, err := s.StartOAuth(ctx, app, OAuthRequest{ProviderID: providerID, ScheduleID: sess.ScheduleID,
		RedirectURL: sess.RedirectURL, AppState: sess.AppState})
	if err != nil {
		s.log.WarnContext(ctx, "connect page: starting OAuth", "session", sess.ID, "provider", providerID, "err", err)
		s.redirectBack(w, sess, url.Values{"error": {providers.OutcomeInternal}})
		return
	}
	seeOther(w, start.OAuthURL)
}

// credentialsError puts a refused credentials attempt in words for the
// end user.
func credentialsError(err error, p *providers.Provider) (int, string) {
	var me *model.Error
	switch {
	case errors.Is(err, providers.ErrRejected):
		if p.Kind == providers.KindAPIKey {
			return http.StatusBadRequest, p.Name + " did not accept this API key. Check it and try again."
		}
		return http.StatusBadRequest, p.Name + " did not accept this username and password. Check them and try again."
	case errors.As(err, &me) && me.Code == model.CodeInvalidArgument:
		return http.StatusBadRequest, fieldWords(me.Field) + " " + me.Message + "."
	default:
		return http.StatusBadGateway, p.Name + " could not be reached to check these details. Try again in a moment."
	}
}

func fieldWords(field string) string {
	switch field {
	case "credentials.username":
		return "The username"
	case "credentials.password":
		return "The password"
	case "credentials.apiKey":
		return "The API key"
	default:
		return "The details"
	}
}

// pageSession loads a page's session and checks it belongs to this
// browser; bind binds an unbound one (GET only). On failure the error page
// is written.
func (s *Service) pageSession(w http.ResponseWriter, r *http.Request, id string, bind bool) (model.AuthSession, bool) {
	ctx := r.Context()
	now := s.now()
	if !validSessionID(id) {
		s.errorPage(w, http.StatusNotFound, pageInvalid)
		return model.AuthSession{}, false
	}
	sess, err := s.st.GetAuthSession(ctx, id, now)
	if err != nil {
		s.storeErrorPage(w, err)
		return model.AuthSession{}, false
	}
	if !isPageSession(sess) {
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return model.AuthSession{}, false
	}
	if len(sess.BindingHash) == 0 && bind {
		nonce, hash := newNonce()
		if err := s.st.BindAuthSession(ctx, sess.ID, hash, now); err != nil {
			s.storeErrorPage(w, err) // another browser bound it first
			return model.AuthSession{}, false
		}
		sess.BindingHash = hash
		http.SetCookie(w, s.pageCookie(sess, nonce, now))
		r.AddCookie(&http.Cookie{Name: pageCookiePrefix + sess.ID, Value: nonce})
	}
	if !s.pageBound(r, sess) {
		s.log.WarnContext(ctx, "connect page: not the browser that opened it", "session", sess.ID)
		s.errorPage(w, http.StatusBadRequest, pageInvalid)
		return model.AuthSession{}, false
	}
	return sess, true
}

func (s *Service) pageCookie(sess model.AuthSession, nonce string, now time.Time) *http.Cookie {
	return &http.Cookie{
		Name: pageCookiePrefix + sess.ID, Value: nonce, Path: s.pagePath,
		MaxAge: max(1, int(sess.ExpiresAt.Sub(now)/time.Second)), HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

func (s *Service) clearPageCookie(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: pageCookiePrefix + id, Value: "", Path: s.pagePath, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// pageNonce is the binding cookie's value when its hash is the session's.
func (s *Service) pageNonce(r *http.Request, sess model.AuthSession) (string, bool) {
	c, err := r.Cookie(pageCookiePrefix + sess.ID)
	if err != nil || c.Value == "" || len(sess.BindingHash) == 0 {
		return "", false
	}
	h := sha256.Sum256([]byte(c.Value))
	return c.Value, hmac.Equal(h[:], sess.BindingHash)
}

func (s *Service) pageBound(r *http.Request, sess model.AuthSession) bool {
	_, ok := s.pageNonce(r, sess)
	return ok
}

// csrfToken is the form token of a page: derived from the binding nonce,
// which only this browser holds (HttpOnly), so another site can neither
// read nor forge it; the SameSite=Lax cookie is not even sent with its
// cross-site POST.
func csrfToken(nonce, sessionID string) string {
	m := hmac.New(sha256.New, []byte(nonce))
	m.Write([]byte("connect-page-form:" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Service) csrfMatches(r *http.Request, sess model.AuthSession) bool {
	nonce, ok := s.pageNonce(r, sess)
	if !ok {
		return false
	}
	return hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(csrfToken(nonce, sess.ID)))
}

// sameOrigin refuses a POST that a browser says comes from another site
// (Sec-Fetch-Site, else Origin): defence in depth beside the token.
func (s *Service) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" && !strings.EqualFold(o, s.origin) {
		return false
	}
	return true
}
