package middleware

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

// BodyLimit refuses request bodies over n bytes (docs/security.md §12). A
// declared Content-Length over n is answered 413 payload_too_large before a
// byte is read; otherwise the body is wrapped with http.MaxBytesReader, so a
// chunked or lying body fails on read with *http.MaxBytesError. Handlers map
// that error with IsBodyTooLarge:
//
//	if err := c.ShouldBindJSON(&req); err != nil {
//		if middleware.IsBodyTooLarge(err) {
//			middleware.Fail(c, model.ErrPayloadTooLarge)
//			return
//		}
//		...
//	}
//
// n must be positive: a zero limit is a wiring mistake, not "no limit".
func BodyLimit(n int64) gin.HandlerFunc {
	if n <= 0 {
		panic("middleware: BodyLimit needs a positive limit")
	}
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			Fail(c, model.Errorf(model.CodePayloadTooLarge, "request body is larger than %d bytes", n))
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// IsBodyTooLarge reports whether err (or an error it wraps) comes from a
// body that went over BodyLimit.
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
