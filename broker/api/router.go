package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/proxy"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
)

// Deps is what the handlers use, and nothing else; broker.New fills it.
// Every field is required: Register refuses a Deps with one missing rather
// than leave its routes out (a wiring slip would be a 404 in production).
type Deps struct {
	// Store answers readiness and the admin's reads of an app.
	Store store.Store
	// RateLimits are security.rateLimits: browser on /oauth and /connect,
	// sessions on starting connect sessions, events on the calendar
	// routes. (app is the Authenticator's.)
	RateLimits config.RateLimits
	Auth       *middleware.Authenticator
	Apps       *apps.Service
	Proxy      *proxy.Proxy
	Connect    *connect.Service
	Webhooks   *webhooks.Worker
	Events     *events.Service
}

// Register mounts every route of the HTTP API on r, or mounts nothing and
// names the dependencies that are missing.
func Register(r gin.IRouter, d Deps) error {
	var missing []string
	for name, isNil := range map[string]bool{
		"Store": d.Store == nil, "Auth": d.Auth == nil, "Apps": d.Apps == nil, "Proxy": d.Proxy == nil,
		"Connect": d.Connect == nil, "Webhooks": d.Webhooks == nil, "Events": d.Events == nil,
	} {
		if isNil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("api: Deps.%s required", strings.Join(missing, ", Deps."))
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
	return nil
}
