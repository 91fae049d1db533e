package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers"
)

// registerProviders mounts GET /v1/providers for any authenticated app: the
// enabled providers offered to it (an OAuth provider needs a broker-wide
// client or the app's own).
func registerProviders(r gin.IRouter, d Deps) {
	svc := d.Connect
	r.GET("/v1/providers", middleware.NoStore(), d.Auth.App(), func(c *gin.Context) {
		ps, err := svc.Offered(c.Request.Context(), middleware.AppFrom(c).ID)
		if err != nil {
			middleware.Fail(c, err)
			return
		}
		out := make([]providerJSON, 0, len(ps))
		for _, p := range ps {
			out = append(out, toProviderJSON(p, d.Events))
		}
		c.JSON(http.StatusOK, gin.H{"providers": out})
	})
}

type providerJSON struct {
	ID             string           `json:"id"`
	Name           string           `json:"name"`
	ConnectMethods []string         `json:"connectMethods"`
	Features       providerFeatures `json:"features"`
}

type providerFeatures struct {
	Proxy      bool `json:"proxy"`
	ListEvents bool `json:"listEvents"`
}

// toProviderJSON says listEvents exactly when the broker has a calendar
// adapter for the provider, so the flag cannot promise what /v1/events
// would not do.
func toProviderJSON(p *providers.Provider, ev *events.Service) providerJSON {
	method := "CREDENTIALS"
	if p.Kind == providers.KindOAuth2 {
		method = "OAUTH"
	}
	return providerJSON{
		ID: p.ID, Name: p.Name, ConnectMethods: []string{method},
		Features: providerFeatures{Proxy: p.APIBaseURL != "", ListEvents: hasReader(ev, p)},
	}
}

func hasReader(ev *events.Service, p *providers.Provider) bool {
	if ev == nil {
		return false
	}
	_, ok := ev.Reader(p)
	return ok
}
