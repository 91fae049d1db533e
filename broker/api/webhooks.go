package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/middleware"
)

// registerWebhooks mounts the delivery log and its actions (docs/webhooks.md):
// any authenticated app sees and acts on its own deliveries only; an admin
// reads any app's.
func registerWebhooks(r gin.IRouter, d Deps) {
	h := webhooksHandler{w: d.Webhooks, d: d}
	app := []gin.HandlerFunc{middleware.NoStore(), d.Auth.App()}
	// Asking for a delivery is limited per app (docs/webhooks.md): each is
	// an outbound call, and a test a row of the shared outbox.
	redeliver := middleware.RateLimitByKey(webhooks.RedeliverRate, webhooks.RedeliverBurst, middleware.KeyByAppID)
	test := middleware.RateLimitByKey(webhooks.TestRate, webhooks.TestBurst, middleware.KeyByAppID)
	r.GET("/v1/webhooks/deliveries", append(app, h.listOwn)...)
	r.POST("/v1/webhooks/deliveries/:id/redeliver", append(app, redeliver, h.redeliver)...)
	r.POST("/v1/webhooks/test", append(app, test, h.test)...)
	r.GET("/v1/apps/:appId/webhooks/deliveries", middleware.NoStore(), d.Auth.Admin(false), h.listAdmin)
}

type webhooksHandler struct {
	w *webhooks.Worker
	d Deps
}

// deliveryJSON is one delivery on the wire. lastError is the broker's own
// description; of the receiver's body it holds at most a short, sanitized
// excerpt.
type deliveryJSON struct {
	ID             string     `json:"id"`
	EventType      string     `json:"eventType"`
	ConnectionID   *string    `json:"connectionId"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"lastStatusCode"`
	LastError      string     `json:"lastError"`
	NextAttemptAt  *time.Time `json:"nextAttemptAt"`
	CreatedAt      time.Time  `json:"createdAt"`
	DeliveredAt    *time.Time `json:"deliveredAt"`
	FailedAt       *time.Time `json:"failedAt"`
}

func toDeliveryJSON(e model.WebhookEvent) deliveryJSON {
	j := deliveryJSON{ID: e.ID, EventType: e.Type, Status: string(e.Status), Attempts: e.Attempts,
		LastError: e.LastError, CreatedAt: e.CreatedAt.UTC()}
	if e.ConnectionID != "" {
		j.ConnectionID = &e.ConnectionID
	}
	if e.LastStatusCode != 0 {
		j.LastStatusCode = &e.LastStatusCode
	}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	if e.Status == model.DeliveryPending {
		j.NextAttemptAt = at(e.NextAttemptAt)
	}
	j.DeliveredAt, j.FailedAt = at(e.DeliveredAt), at(e.FailedAt)
	return j
}

var deliveriesQuery = map[string]bool{"status": true, "eventType": true, "limit": true, "cursor": true}

func (h webhooksHandler) listOwn(c *gin.Context) { h.list(c, middleware.AppFrom(c).ID) }

func (h webhooksHandler) listAdmin(c *gin.Context) {
	id := c.Param("appId")
	if _, err := h.d.Store.GetApp(c.Request.Context(), id); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			err = &model.Error{Code: model.CodeNotFound, Message: "app not found", Err: err}
		}
		middleware.Fail(c, err)
		return
	}
	h.list(c, id)
}

func (h webhooksHandler) list(c *gin.Context, appID string) {
	q, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		middleware.Fail(c, model.Invalid("", "the query string is malformed"))
		return
	}
	for k, v := range q {
		if !deliveriesQuery[k] {
			middleware.Fail(c, model.Invalid(k, "%q is not a known parameter", k))
			return
		}
		if len(v) > 1 {
			middleware.Fail(c, model.Invalid(k, "is given more than once"))
			return
		}
	}
	wq := webhooks.Query{Status: q.Get("status"), EventType: q.Get("eventType"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			middleware.Fail(c, model.Invalid("limit", "must be a whole number between 1 and %d", webhooks.MaxListLimit))
			return
		}
		wq.Limit = n
	}
	page, err := h.w.List(c.Request.Context(), appID, wq)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	out := make([]deliveryJSON, 0, len(page.Deliveries))
	for _, e := range page.Deliveries {
		out = append(out, toDeliveryJSON(e))
	}
	body := gin.H{"deliveries": out}
	if page.NextCursor != "" {
		body["nextCursor"] = page.NextCursor
	}
	c.JSON(http.StatusOK, body)
}

func (h webhooksHandler) redeliver(c *gin.Context) {
	e, err := h.w.Redeliver(c.Request.Context(), middleware.AppFrom(c).ID, c.Param("id"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"delivery": toDeliveryJSON(e)})
}

func (h webhooksHandler) test(c *gin.Context) {
	e, err := h.w.SendTest(c.Request.Context(), middleware.AppFrom(c).ID)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"delivery": toDeliveryJSON(e)})
}
