package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/docs"
)

// OpenAPIPath serves docs/openapi.yaml, the OpenAPI 3.1 description of
// every route, so a client in any language can be generated from the
// running broker.
const OpenAPIPath = "/openapi.yaml"

func registerOpenAPI(r gin.IRouter) {
	r.GET(OpenAPIPath, func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "application/yaml", docs.OpenAPI)
	})
}
