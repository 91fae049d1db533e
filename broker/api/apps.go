package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/middleware"
)

// registerApps mounts the admin API for apps (docs/api.md). Reads take
// either admin token, changes only the full one.
func registerApps(r gin.IRouter, d Deps) {
	h := appsHandler{svc: d.Apps}
	read, write := d.Auth.Admin(false), d.Auth.Admin(true)
	g := r.Group("/v1/apps")
	g.POST("", write, h.create)
	g.POST("/query", read, h.query)
	g.GET("/:appId", read, h.get)
	g.PATCH("/:appId", write, h.update)
	g.DELETE("/:appId", write, h.delete)
	g.POST("/:appId/secret", write, h.rotateSecret)
	g.POST("/:appId/webhook-secret", write, h.rotateWebhookSecret)
	g.PUT("/:appId/providers/:providerId", write, h.putProvider)
	g.DELETE("/:appId/providers/:providerId", write, h.deleteProvider)
}

type appsHandler struct{ svc *apps.Service }

// AppJSON is an app on the wire, the one shape the admin API and the CLI's
// --json output print. It has no secret nor hash, on purpose. The read-only
// fields are accepted on input so an app read with GET can be sent back in a
// PATCH; only the mask decides what changes.
type AppJSON struct {
	ID                  string             `json:"id"`
	Name                string             `json:"name"`
	Description         string             `json:"description"`
	LogoURL             string             `json:"logoUrl"`
	HomepageURL         string             `json:"homepageUrl"`
	AllowedDomains      []string           `json:"allowedDomains"`
	AllowedRedirectURIs []string           `json:"allowedRedirectUris"`
	LoginURL            string             `json:"loginUrl"`
	LogoutURL           string             `json:"logoutUrl"`
	WebhookURL          string             `json:"webhookUrl"`
	Permissions         []model.Permission `json:"permissions"`
	RateLimit           float64            `json:"rateLimit"`
	CreatedDate         *time.Time         `json:"createdDate,omitempty"`
	UpdatedDate         *time.Time         `json:"updatedDate,omitempty"`
}

// ToAppJSON shows a as the admin API does: lists never null.
func ToAppJSON(a model.App) AppJSON {
	created, updated := a.CreatedAt, a.UpdatedAt
	return AppJSON{
		ID: a.ID, Name: a.Name, Description: a.Description, LogoURL: a.LogoURL, HomepageURL: a.HomepageURL,
		AllowedDomains: nonNil(a.AllowedDomains), AllowedRedirectURIs: nonNil(a.AllowedRedirectURIs),
		LoginURL: a.LoginURL, LogoutURL: a.LogoutURL, WebhookURL: a.WebhookURL,
		Permissions: nonNil(a.Permissions), RateLimit: a.RateLimit, CreatedDate: &created, UpdatedDate: &updated,
	}
}

func (j AppJSON) input() apps.AppInput {
	return apps.AppInput{
		Name: j.Name, Description: j.Description, LogoURL: j.LogoURL, HomepageURL: j.HomepageURL,
		AllowedDomains: j.AllowedDomains, AllowedRedirectURIs: j.AllowedRedirectURIs,
		LoginURL: j.LoginURL, LogoutURL: j.LogoutURL, WebhookURL: j.WebhookURL, Permissions: j.Permissions,
		RateLimit: j.RateLimit,
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// noStore keeps responses that carry a secret out of every cache.
func noStore(c *gin.Context) { c.Header("Cache-Control", "no-store") }

func (h appsHandler) create(c *gin.Context) {
	var body struct {
		App *AppJSON `json:"app"`
	}
	if err := decodeJSON(c, &body, maxAdminBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	if body.App == nil {
		middleware.Fail(c, model.Invalid("app", "is required"))
		return
	}
	switch {
	case body.App.ID != "":
		middleware.Fail(c, model.Invalid("app.id", "is assigned by the broker"))
		return
	case body.App.CreatedDate != nil || body.App.UpdatedDate != nil:
		middleware.Fail(c, model.Invalid("app.createdDate", "is set by the broker"))
		return
	}
	app, secret, webhookSecret, err := h.svc.Create(c.Request.Context(), body.App.input())
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusCreated, gin.H{"app": ToAppJSON(app), "clientSecret": secret, "webhookSecret": webhookSecret})
}

func (h appsHandler) get(c *gin.Context) {
	app, err := h.svc.Get(c.Request.Context(), c.Param("appId"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"app": ToAppJSON(app)})
}

type queryBody struct {
	Filter struct {
		ID string `json:"id"`
	} `json:"filter"`
	Sort []struct {
		FieldName string `json:"fieldName"`
		Order     string `json:"order"`
	} `json:"sort"`
	Paging struct {
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
	} `json:"paging"`
}

func (h appsHandler) query(c *gin.Context) {
	var body queryBody
	if err := decodeJSON(c, &body, maxAdminBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	q := store.AppQuery{ID: body.Filter.ID, Limit: body.Paging.Limit, Offset: body.Paging.Offset}
	if len(body.Sort) > 1 {
		middleware.Fail(c, model.Invalid("sort", "at most one sort field is supported"))
		return
	}
	if len(body.Sort) == 1 {
		s := body.Sort[0]
		switch s.FieldName {
		case "createdDate", "name":
			q.SortField = s.FieldName
		default:
			middleware.Fail(c, model.Invalid("sort[0].fieldName", "%q cannot be sorted on; use createdDate or name", s.FieldName))
			return
		}
		switch s.Order {
		case "", "ASC":
		case "DESC":
			q.SortDesc = true
		default:
			middleware.Fail(c, model.Invalid("sort[0].order", "%q is not an order; use ASC or DESC", s.Order))
			return
		}
	}
	list, total, err := h.svc.Query(c.Request.Context(), q)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	out := make([]AppJSON, len(list))
	for i, a := range list {
		out[i] = ToAppJSON(a)
	}
	offset := q.Offset
	c.JSON(http.StatusOK, gin.H{
		"apps":           out,
		"pagingMetadata": gin.H{"count": len(out), "offset": offset, "total": total},
	})
}

func (h appsHandler) update(c *gin.Context) {
	var body struct {
		App  *AppJSON `json:"app"`
		Mask *struct {
			Paths []string `json:"paths"`
		} `json:"mask"`
	}
	if err := decodeJSON(c, &body, maxAdminBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	if body.Mask == nil || len(body.Mask.Paths) == 0 {
		middleware.Fail(c, model.Invalid("mask.paths", "must name at least one field to change"))
		return
	}
	if body.App == nil {
		middleware.Fail(c, model.Invalid("app", "is required"))
		return
	}
	app, err := h.svc.Update(c.Request.Context(), c.Param("appId"), body.App.input(), body.Mask.Paths)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"app": ToAppJSON(app)})
}

func (h appsHandler) delete(c *gin.Context) {
	if err := h.svc.Delete(c.Request.Context(), c.Param("appId")); err != nil {
		middleware.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h appsHandler) rotateSecret(c *gin.Context) {
	secret, err := h.svc.RotateSecret(c.Request.Context(), c.Param("appId"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"clientSecret": secret})
}

func (h appsHandler) rotateWebhookSecret(c *gin.Context) {
	secret, err := h.svc.RotateWebhookSecret(c.Request.Context(), c.Param("appId"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"webhookSecret": secret})
}

type appProviderJSON struct {
	ProviderID  string    `json:"providerId"`
	ClientID    string    `json:"clientId"`
	Scopes      []string  `json:"scopes"`
	CreatedDate time.Time `json:"createdDate"`
	UpdatedDate time.Time `json:"updatedDate"`
}

func (h appsHandler) putProvider(c *gin.Context) {
	var body struct {
		ClientID     string   `json:"clientId"`
		ClientSecret string   `json:"clientSecret"`
		Scopes       []string `json:"scopes"`
	}
	if err := decodeJSON(c, &body, maxAdminBody); err != nil {
		middleware.Fail(c, err)
		return
	}
	p, err := h.svc.PutProvider(c.Request.Context(), c.Param("appId"), c.Param("providerId"),
		apps.ProviderInput{ClientID: body.ClientID, ClientSecret: body.ClientSecret, Scopes: body.Scopes})
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"provider": appProviderJSON{
		ProviderID: p.ProviderID, ClientID: p.ClientID, Scopes: nonNil(p.Scopes),
		CreatedDate: p.CreatedAt, UpdatedDate: p.UpdatedAt,
	}})
}

func (h appsHandler) deleteProvider(c *gin.Context) {
	if err := h.svc.DeleteProvider(c.Request.Context(), c.Param("appId"), c.Param("providerId")); err != nil {
		middleware.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
