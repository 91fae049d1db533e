package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
)

// registerConnect mounts the connect flows: the app-facing POST
// /v1/connect/{oauth,code,credentials,sessions} (CONNECTIONS_MANAGE) and the
// public browser pages GET /oauth/start/{sessionId}, GET /oauth/callback and
// the hosted connect page GET and POST /connect/{sessionId},
// limited per client address (security.rateLimits.browser).
func registerConnect(r gin.IRouter, d Deps) {
	h := connectHandler{svc: d.Connect}
	manage := []gin.HandlerFunc{middleware.NoStore(), d.Auth.App(), middleware.RequirePermission(model.PermConnectionsManage)}
	// Starting a session writes a row: limited per app, beside the cap on
	// unfinished sessions (security.rateLimits.sessions, maxPendingSessions).
	sessions := d.RateLimits.Sessions
	starts := append(slices.Clone(manage), middleware.RateLimitByKey(sessions.PerSecond(), sessions.Events, middleware.KeyByAppID))
	r.POST("/v1/connect/oauth", append(starts, h.oauth)...)
	r.POST("/v1/connect/code", append(manage, h.code)...)
	r.POST("/v1/connect/credentials", append(manage, h.credentials)...)
	r.POST("/v1/connect/sessions", append(starts, h.sessions)...)

	browser := BrowserRateLimit(d.RateLimits.Browser)
	r.GET("/oauth/start/:sessionId", browser, func(c *gin.Context) {
		d.Connect.Start(c.Writer, c.Request, c.Param("sessionId"))
	})
	r.GET("/oauth/callback", browser, func(c *gin.Context) {
		d.Connect.Callback(c.Writer, c.Request)
	})
	r.GET("/connect/:sessionId", browser, func(c *gin.Context) {
		d.Connect.Page(c.Writer, c.Request, c.Param("sessionId"))
	})
	r.POST("/connect/:sessionId", browser, func(c *gin.Context) {
		d.Connect.PagePost(c.Writer, c.Request, c.Param("sessionId"))
	})
}

// BrowserRateLimit is security.rateLimits.browser, per client address, for
// the pages a person opens (/oauth, /connect, /demo). Over it a browser gets
// the broker's "Too many requests" page and any other client the JSON
// envelope, both 429 with Retry-After.
func BrowserRateLimit(browser config.Rate) gin.HandlerFunc {
	return middleware.RateLimitByKeyWith(browser.PerSecond(), browser.Events, middleware.KeyByClientIP, func(c *gin.Context) {
		if !wantsHTML(c.Request) {
			middleware.Fail(c, model.ErrRateLimited)
			return
		}
		c.Header(middleware.HeaderBrokerError, string(model.CodeRateLimited))
		connect.TooManyRequestsPage(c.Writer)
		c.Abort()
	})
}

// wantsHTML: the request is a browser's navigation, which asks for
// text/html; API clients ask for JSON or send no Accept at all.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

type sessionsBody struct {
	ScheduleID  string   `json:"scheduleId"`
	RedirectURL string   `json:"redirectUrl"`
	Providers   []string `json:"providers"`
	AppState    string   `json:"appState"`
}

type sessionsAnswer struct {
	ConnectURL string    `json:"connectUrl"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

func (h connectHandler) sessions(c *gin.Context) {
	var b sessionsBody
	if err := decodeJSON(c, &b, maxConnectBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	out, err := h.svc.StartPage(c.Request.Context(), middleware.AppFrom(c), connect.PageRequest{
		ScheduleID: b.ScheduleID, RedirectURL: b.RedirectURL, Providers: b.Providers, AppState: b.AppState,
	})
	if err != nil {
		middleware.Fail(c, err) // a cap says when to try again: Retry-After
		return
	}
	c.JSON(http.StatusOK, sessionsAnswer{ConnectURL: out.ConnectURL, ExpiresAt: out.ExpiresAt.UTC()})
}

type connectHandler struct{ svc *connect.Service }

type oauthBody struct {
	ProviderID  string   `json:"providerId"`
	ScheduleID  string   `json:"scheduleId"`
	RedirectURL string   `json:"redirectUrl"`
	Scopes      []string `json:"scopes"`
	LoginHint   string   `json:"loginHint"`
	AppState    string   `json:"appState"`
}

type oauthAnswer struct {
	OAuthURL  string    `json:"oauthUrl"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (h connectHandler) oauth(c *gin.Context) {
	var b oauthBody
	if err := decodeJSON(c, &b, maxConnectBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	out, err := h.svc.StartOAuth(c.Request.Context(), middleware.AppFrom(c), connect.OAuthRequest{
		ProviderID: b.ProviderID, ScheduleID: b.ScheduleID, RedirectURL: b.RedirectURL,
		Scopes: b.Scopes, LoginHint: b.LoginHint, AppState: b.AppState,
	})
	if err != nil {
		middleware.Fail(c, err) // a cap says when to try again: Retry-After
		return
	}
	c.JSON(http.StatusOK, oauthAnswer{OAuthURL: out.OAuthURL, ExpiresAt: out.ExpiresAt.UTC()})
}

type codeBody struct {
	ProviderID   string `json:"providerId"`
	ScheduleID   string `json:"scheduleId"`
	Code         string `json:"code"`
	RedirectURI  string `json:"redirectUri"`
	CodeVerifier string `json:"codeVerifier"`
	Name         string `json:"name"`
}

func (h connectHandler) code(c *gin.Context) {
	var b codeBody
	if err := decodeJSON(c, &b, maxConnectBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	conn, err := h.svc.ExchangeCode(c.Request.Context(), middleware.AppFrom(c), connect.CodeRequest{
		ProviderID: b.ProviderID, ScheduleID: b.ScheduleID, Code: b.Code,
		RedirectURI: b.RedirectURI, CodeVerifier: b.CodeVerifier, Name: b.Name,
	})
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"connection": toConnectionJSON(conn)})
}

type credentialsBody struct {
	ProviderID  string `json:"providerId"`
	ScheduleID  string `json:"scheduleId"`
	Credentials struct {
		APIKey   string `json:"apiKey"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"credentials"`
}

func (h connectHandler) credentials(c *gin.Context) {
	var b credentialsBody
	if err := decodeJSON(c, &b, maxConnectBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	conn, err := h.svc.ConnectCredentials(c.Request.Context(), middleware.AppFrom(c), connect.CredentialsRequest{
		ProviderID: b.ProviderID, ScheduleID: b.ScheduleID,
		Credentials: connect.Credentials{APIKey: b.Credentials.APIKey, Username: b.Credentials.Username, Password: b.Credentials.Password},
	})
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"connection": toConnectionJSON(conn)})
}
