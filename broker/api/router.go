package api

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/proxy"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
)

// Deps is what the handlers need; broker.New fills it. Each group of routes
// takes the fields it uses.
type Deps struct {
	Config    *config.Config
	Store     store.Store
	Logger    *slog.Logger
	Now       func() time.Time
	Auth      *middleware.Authenticator
	Apps      *apps.Service
	Proxy     *proxy.Proxy
	Connect   *connect.Service
	Providers *providers.Registry
	Tokens    *tokens.Manager
	Webhooks  *webhooks.Worker
	Events    *events.Service
	Telemetry *telemetry.Telemetry
}

// Register mounts every route of the HTTP API on r.
func Register(r gin.IRouter, d Deps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	registerHealth(r, d)
	registerOpenAPI(r)
	registerApps(r, d)
	registerProviders(r, d)
	registerConnect(r, d)
	registerConnections(r, d)
	registerProxy(r, d)
	registerWebhooks(r, d)
	registerEvents(r, d)
}
