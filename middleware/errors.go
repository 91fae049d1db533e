package middleware

import (
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
	c.Header(HeaderBrokerError, string(body.Error.Code))
	c.AbortWithStatusJSON(status, body)
}
