package middleware

import (
	"context"
	"crypto/rand"
	"log/slog"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// MaxRequestIDLen bounds an inbound request id that is kept.
const MaxRequestIDLen = 128

// keyRequestID is the gin key of the request id.
const keyRequestID = "broker.requestID"

// requestIDCtxKey is the context.Context key, so code that only has the
// request's context (stores, providers, slog) finds the id too.
type requestIDCtxKey struct{}

// RequestID keeps a sane inbound X-Request-Id (1 to 128 printable ASCII
// characters, no spaces), so a caller can follow its request through the
// broker's logs, or makes a new one. The id is echoed on the response and
// stored in the gin context and the request's context. Put it first.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID(id) {
			id = rand.Text() // 128 random bits, base32
		}
		c.Set(keyRequestID, id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDCtxKey{}, id))
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// validRequestID refuses what could forge or break a log line or a header:
// control characters, spaces, anything outside printable ASCII, overlong ids.
func validRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// RequestIDFrom returns the request id in ctx (a *gin.Context or a request's
// context), or "" if there is none.
func RequestIDFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	if c, ok := ctx.(*gin.Context); ok {
		if id := c.GetString(keyRequestID); id != "" {
			return id
		}
		if c.Request == nil {
			return ""
		}
		ctx = c.Request.Context()
	}
	id, _ := ctx.Value(requestIDCtxKey{}).(string)
	return id
}

// LoggerFrom returns base with the request id of ctx attached as
// request_id, or base itself when ctx has none.
func LoggerFrom(ctx context.Context, base *slog.Logger) *slog.Logger {
	if id := RequestIDFrom(ctx); id != "" {
		return base.With(slog.String("request_id", id))
	}
	return base
}

// NewRequestIDHandler wraps h so that every record logged with a context
// (logger.InfoContext(ctx, ...)) carries that context's request_id. Install
// it once on the root logger; then no call site has to remember. Use it or
// LoggerFrom for a given logger, not both, or the id appears twice.
func NewRequestIDHandler(h slog.Handler) slog.Handler {
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
