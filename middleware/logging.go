package middleware

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/telemetry"
)

// AccessLog logs one line per request: method, route template, status,
// duration, response bytes, client address, request id, the trace id when
// tracing is on and, once authentication has run, the app id. Unmatched
// routes are logged too (route "unmatched"), so a scan leaves a trace. Put it after RequestID and before
// Recovery, so it sees the 500 a panic turns into.
//
// What it leaves out is deliberate (docs/security.md §15): the raw path and
// query (the callback's query carries the code and the state; a proxied path
// may carry anything), every header (Authorization, X-Api-Key, cookies) and
// bodies. Errors recorded with c.Error appear by their message only; their
// authors keep secrets out of those messages.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		// The server span (when tracing) gets the app and connection ids
		// here, once authentication ran; never a metric label.
		ctx := c.Request.Context()
		if telemetry.Recording(ctx) {
			if app := AppIDFrom(c); app != "" {
				telemetry.Annotate(ctx, telemetry.AttrApp.String(app))
			}
			if conn := connectionParam(c); conn != "" {
				telemetry.Annotate(ctx, telemetry.AttrConnection.String(conn))
			}
		}

		status := c.Writer.Status()
		level := slog.LevelInfo
		// A 5xx for a caller that already went away (its context is done) is
		// not the broker failing: nobody saw it, so it stays at info.
		if status >= 500 && c.Request.Context().Err() == nil {
			level = slog.LevelError
		}
		// Checked first: at log.level warn the proxy's hot path pays nothing
		// for a line nobody keeps (it was 4% of a loaded broker's CPU).
		if !logger.Enabled(context.Background(), level) {
			return
		}
		route := c.FullPath() // the template, e.g. /v1/connections/:id
		if route == "" {
			route = "unmatched"
		}
		var buf [10]slog.Attr // method … errors: no growth, no second allocation
		attrs := append(buf[:0],
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client_ip", c.ClientIP()),
		)
		if id := RequestIDFrom(c); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		if app := AppIDFrom(c); app != "" {
			attrs = append(attrs, slog.String("app_id", app))
		}
		if id := telemetry.TraceID(ctx); id != "" {
			attrs = append(attrs, slog.String("trace_id", id))
		}
		if len(c.Errors) > 0 {
			msgs := make([]string, len(c.Errors))
			for i, e := range c.Errors {
				msgs[i] = e.Err.Error() // never e.Meta, which may hold request data
			}
			attrs = append(attrs, slog.Any("errors", msgs))
		}
		// A background context: the request id is already in attrs, and a
		// NewRequestIDHandler must not add it twice.
		logger.LogAttrs(context.Background(), level, "request", attrs...)
	}
}

// connectionParam is the connection id a route names, if any.
func connectionParam(c *gin.Context) string {
	if id := c.Param("connectionId"); id != "" {
		return id
	}
	if strings.HasPrefix(c.FullPath(), "/v1/connections/:") {
		return c.Param("id")
	}
	return ""
}
