package api

import (
	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/middleware"
)

// proxyMethods are the methods the proxy forwards: HTTP's own and those of
// WebDAV, CalDAV and CardDAV. Gin routes one method at a time; CONNECT and
// TRACE are left out on purpose (a tunnel and a header echo have no place
// in front of a provider's API).
var proxyMethods = []string{
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
	"REPORT", "MKCALENDAR", "SEARCH", "ACL",
}

// registerProxy mounts ANY /proxy/{connectionId}/{path…}: the app is
// authenticated, must hold PROXY, and the proxy takes the path from the raw
// request URL itself (not Gin's decoded parameter), see broker/proxy.
func registerProxy(r gin.IRouter, d Deps) {
	p := d.Proxy
	handle := func(c *gin.Context) {
		p.ServeProxy(c.Writer, c.Request, middleware.AppFrom(c).ID, c.Param("connectionId"))
	}
	chain := []gin.HandlerFunc{d.Auth.App(), middleware.RequirePermission(model.PermProxy), handle}
	for _, m := range proxyMethods {
		r.Handle(m, "/proxy/:connectionId/*path", chain...)
	}
}
