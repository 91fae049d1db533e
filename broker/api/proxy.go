package api

import (
	"strings"

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

// NoRoute answers a path no route serves with the error envelope (404
// not_found), and says what is missing when the path is a proxy call
// without the slash after the connection id. The broker's engine uses it;
// an app embedding the broker can use it as its own engine's NoRoute, with
// RedirectTrailingSlash off so Gin does not answer first.
func NoRoute(c *gin.Context) {
	if rest, ok := strings.CutPrefix(c.Request.URL.Path, "/proxy/"); ok && rest != "" && !strings.Contains(rest, "/") {
		middleware.Fail(c, model.Errorf(model.CodeNotFound,
			"a proxy call is /proxy/{connectionId}/{path}: add a / after the connection id (/proxy/{connectionId}/ is the API's base URL)"))
		return
	}
	middleware.Fail(c, model.Errorf(model.CodeNotFound, "no such endpoint"))
}
