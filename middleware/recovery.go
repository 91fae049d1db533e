package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

// Recovery turns a panic in a later handler into a 500 internal envelope and
// logs the panic value and stack with the request id, but nothing of the
// request itself (path, query, headers, body may all hold secrets). Put it
// after RequestID and AccessLog.
//
// http.ErrAbortHandler is re-panicked: it is how a handler (or
// httputil.ReverseProxy) asks net/http to drop the connection quietly.
func Recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "panic",
				slog.String("request_id", RequestIDFrom(c)),
				slog.String("route", c.FullPath()),
				slog.String("panic", fmt.Sprint(p)),
				slog.String("stack", string(debug.Stack())),
			)
			if c.Writer.Written() {
				// Too late for an envelope; cut the response short.
				c.Abort()
				return
			}
			Fail(c, model.Errorf(model.CodeInternal, "internal error"))
		}()
		c.Next()
	}
}
