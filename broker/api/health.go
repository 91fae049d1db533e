package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/middleware"
)

// readyTimeout bounds the readiness probe's store check, so a hung database
// turns the probe false instead of hanging it.
const readyTimeout = 2 * time.Second

func registerHealth(r gin.IRouter, d Deps) {
	// Liveness: the process answers. It never touches the store, so a
	// database outage does not make an orchestrator restart healthy pods.
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	// Readiness: the store is reachable and its schema is the one this
	// binary knows.
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := d.Store.Ping(ctx); err != nil {
			middleware.Fail(c, fmt.Errorf("api: readiness: %w", model.ErrUnavailable))
			return
		}
		applied, known, err := d.Store.SchemaVersion(ctx)
		if err != nil {
			middleware.Fail(c, fmt.Errorf("api: readiness: %w", model.ErrUnavailable))
			return
		}
		if applied != known {
			middleware.Fail(c, &model.Error{Code: model.CodeUnavailable,
				Message: fmt.Sprintf("store schema version %d, this broker needs %d: run `broker migrate`", applied, known)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "schemaVersion": applied})
	})
}
