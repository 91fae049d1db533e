package middleware

import (
	"errors"
	"math"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

// HeaderBrokerError marks a response the broker made itself (not the
// upstream's), carrying the error code.
const HeaderBrokerError = "X-Broker-Error"

// Fail aborts the request with the error envelope of docs/api.md; the status
// comes from model.HTTPStatus, the one mapping table. Every handler and
// middleware answers errors through it.
func Fail(c *gin.Context, err error) {
	status, body := model.Envelope(err)
	if status >= 500 {
		_ = c.Error(err) // the access log records the cause; the caller sees only the code
	}
	var later model.RetryAfter
	if errors.As(err, &later) && later.RetryIn() > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(later.RetryIn().Seconds()))))
	}
	c.Header(HeaderBrokerError, string(body.Error.Code))
	c.AbortWithStatusJSON(status, body)
}
