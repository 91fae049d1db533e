package middleware

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// MaxRequestIDLen bounds an inbound request id that is kept.
const MaxRequestIDLen = 128

// RequestID keeps a sane inbound X-Request-Id (1 to 128 printable ASCII
// characters, no spaces), so a caller can follow its request through the
// broker's logs, or makes a new one. The id is echoed on the response and
// carried by the request's context (see requestState). Put it first.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		s := ginState(c)
		if vs := c.Request.Header[HeaderRequestID]; len(vs) > 0 {
			s.id = vs[0]
		}
		if !validRequestID(s.id) {
			s.id = newRequestID()
		}
		s.idHeader[0] = s.id
		c.Writer.Header()[HeaderRequestID] = s.idHeader[:]
		c.Next()
	}
}

// newRequestID is 128 random bits in base32 (26 characters, A–Z and 2–7).
// An id is a correlation handle, echoed to the caller and logged, not a
// secret: the runtime's per-thread ChaCha8 generator (math/rand/v2) makes
// it without a system call or a lock, which crypto/rand cannot promise on
// every kernel.
func newRequestID() string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var out [26]byte
	requestIDEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

var requestIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

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
	if c, ok := ctx.(*gin.Context); ok {
		if c.Request == nil {
			return ""
		}
		ctx = c.Request.Context()
	}
	if s := stateOf(ctx); s != nil {
		return s.id
	}
	return ""
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
