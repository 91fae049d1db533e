package middleware

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

// requestState is what the broker's middleware knows about a request, in
// one allocation carried as the request's context: the request id (so code
// that only has the context, such as stores, providers and slog, finds it)
// and, once authentication ran, the app. Gin keys would cost a map and a
// boxed string per value on every request (the proxy's hot path).
type requestState struct {
	context.Context
	id  string
	app *model.App
	// idHeader backs the X-Request-Id response header, so setting it
	// allocates nothing more.
	idHeader [1]string
}

type stateKey struct{}

func (s *requestState) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return s
	}
	return s.Context.Value(key)
}

// stateOf returns the request's state, or nil before RequestID (or
// authentication, when RequestID is not installed) made one.
func stateOf(ctx context.Context) *requestState {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

// ginState is the state of c's request, made (with a copy of the request
// carrying it) when there is none yet.
func ginState(c *gin.Context) *requestState {
	if s := stateOf(c.Request.Context()); s != nil {
		return s
	}
	s := &requestState{Context: c.Request.Context()}
	c.Request = c.Request.WithContext(s)
	return s
}

// setApp records the authenticated app on c's request.
func setApp(c *gin.Context, app *model.App) { ginState(c).app = app }

// AppFrom returns the app authenticated by Authenticator.App, or nil. The
// app is shared with the cache: callers must not modify it.
func AppFrom(c *gin.Context) *model.App {
	if s := stateOf(c.Request.Context()); s != nil {
		return s.app
	}
	return nil
}

// AppIDFrom returns the id of the authenticated app, or "".
func AppIDFrom(c *gin.Context) string {
	if app := AppFrom(c); app != nil {
		return app.ID
	}
	return ""
}
