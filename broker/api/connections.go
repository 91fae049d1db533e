package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/middleware"
)

// registerConnections mounts the calling app's view of its connections:
// list, get and test (CONNECTIONS_READ), disconnect (CONNECTIONS_MANAGE).
// Another app's connection is 404, like a missing one.
func registerConnections(r gin.IRouter, d Deps) {
	h := connectionsHandler{svc: d.Connect}
	read := []gin.HandlerFunc{middleware.NoStore(), d.Auth.App(), middleware.RequirePermission(model.PermConnectionsRead)}
	manage := []gin.HandlerFunc{middleware.NoStore(), d.Auth.App(), middleware.RequirePermission(model.PermConnectionsManage)}
	r.GET("/v1/connections", append(read, h.list)...)
	r.GET("/v1/connections/:id", append(read, h.get)...)
	r.POST("/v1/connections/:id/test", append(read, h.test)...)
	r.POST("/v1/connections/:id/disconnect", append(manage, h.disconnect)...)
}

type connectionsHandler struct{ svc *connect.Service }

// connectionJSON is a connection as an app sees it; webhook bodies carry
// the same object (model.ToConnectionJSON).
type connectionJSON = model.ConnectionJSON

func toConnectionJSON(c model.Connection) connectionJSON { return model.ToConnectionJSON(c) }

// listQuery are the parameters GET /v1/connections knows; any other is
// refused, as an unknown JSON field is.
var listQuery = map[string]bool{"scheduleId": true, "providerId": true, "status": true, "limit": true, "cursor": true}

func (h connectionsHandler) list(c *gin.Context) {
	q, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		middleware.Fail(c, model.Invalid("", "the query string is malformed"))
		return
	}
	for k, v := range q {
		if !listQuery[k] {
			middleware.Fail(c, model.Invalid(k, "%q is not a known parameter", k))
			return
		}
		if len(v) > 1 {
			middleware.Fail(c, model.Invalid(k, "is given more than once"))
			return
		}
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			middleware.Fail(c, model.Invalid("limit", "must be a whole number between 1 and %d", connect.MaxListLimit))
			return
		}
		limit = n
	}
	page, err := h.svc.List(c.Request.Context(), middleware.AppFrom(c).ID, connect.ListFilter{
		ScheduleID: q.Get("scheduleId"), ProviderID: q.Get("providerId"), Status: model.ConnectionStatus(q.Get("status")),
	}, limit, q.Get("cursor"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	out := make([]connectionJSON, 0, len(page.Connections))
	for _, conn := range page.Connections {
		out = append(out, toConnectionJSON(conn))
	}
	body := gin.H{"connections": out}
	if page.NextCursor != "" {
		body["nextCursor"] = page.NextCursor
	}
	c.JSON(http.StatusOK, body)
}

func (h connectionsHandler) get(c *gin.Context) {
	conn, err := h.svc.Get(c.Request.Context(), middleware.AppFrom(c).ID, c.Param("id"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toConnectionJSON(conn))
}

type testJSON struct {
	OK   bool   `json:"ok"`
	Code string `json:"code,omitempty"`
}

func (h connectionsHandler) test(c *gin.Context) {
	res, err := h.svc.Test(c.Request.Context(), middleware.AppFrom(c).ID, c.Param("id"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, testJSON{OK: res.OK, Code: res.Code})
}

func (h connectionsHandler) disconnect(c *gin.Context) {
	conn, err := h.svc.Disconnect(c.Request.Context(), middleware.AppFrom(c).ID, c.Param("id"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toConnectionJSON(conn))
}
