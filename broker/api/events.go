package api

import (
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/connect"
	"github.com/oauthbroker/broker/broker/events"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/middleware"
)

// Limits of GET /v1/events and /v1/freebusy (docs/api.md, events).
const (
	maxSchedules     = 100
	defaultEventsMax = 100
	maxEventsLimit   = 1000
	maxWindow        = 366 * 24 * time.Hour
)

// registerEvents mounts a connection's calendars (read: CONNECTIONS_READ,
// select: CONNECTIONS_MANAGE), /v1/events and /v1/freebusy (EVENTS_READ).
func registerEvents(r gin.IRouter, d Deps) {
	h := eventsHandler{svc: d.Events}
	// Each call reads the providers, on quotas other apps share: one
	// limiter per app across these routes (security.rateLimits.events).
	ev := d.RateLimits.Events
	limit := middleware.RateLimitByKey(ev.PerSecond(), ev.Events, middleware.KeyByAppID)
	auth := func(p model.Permission) []gin.HandlerFunc {
		return []gin.HandlerFunc{middleware.NoStore(), d.Auth.App(), middleware.RequirePermission(p), limit}
	}
	r.GET("/v1/connections/:id/calendars", append(auth(model.PermConnectionsRead), h.calendars)...)
	r.PUT("/v1/connections/:id/calendars", append(auth(model.PermConnectionsManage), h.selectCalendars)...)
	r.GET("/v1/events", append(auth(model.PermEventsRead), h.events)...)
	r.GET("/v1/freebusy", append(auth(model.PermEventsRead), h.freebusy)...)
}

type eventsHandler struct{ svc *events.Service }

type calendarJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Primary  bool   `json:"primary"`
	Selected bool   `json:"selected"`
	ReadOnly bool   `json:"readOnly"`
	TimeZone string `json:"timeZone,omitempty"`
}

func calendarsJSON(vs []events.CalendarView, ownPI bool) gin.H {
	out := make([]calendarJSON, 0, len(vs))
	for _, v := range vs {
		j := calendarJSON{ID: v.ID, Primary: v.Primary, Selected: v.Selected, ReadOnly: v.ReadOnly, TimeZone: v.TimeZone}
		if ownPI {
			j.Name = v.Name
		}
		out = append(out, j)
	}
	return gin.H{"calendars": out}
}

func fieldset(q url.Values) (ownPI bool, err error) {
	switch q.Get("fieldset") {
	case "", "NO_PI":
		return false, nil
	case "OWN_PI":
		return true, nil
	}
	return false, model.Invalid("fieldset", "must be NO_PI or OWN_PI")
}

func (h eventsHandler) calendars(c *gin.Context) {
	v, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		middleware.Fail(c, model.Invalid("", "the query string is malformed"))
		return
	}
	for k, vals := range v {
		if k != "fieldset" || len(vals) > 1 {
			middleware.Fail(c, model.Invalid(k, "%q is not a known parameter or is given more than once", k))
			return
		}
	}
	own, err := fieldset(v)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	vs, err := h.svc.Calendars(c.Request.Context(), middleware.AppFrom(c).ID, c.Param("id"))
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(200, calendarsJSON(vs, own))
}

func (h eventsHandler) selectCalendars(c *gin.Context) {
	var body struct {
		Selected []string `json:"selected"`
	}
	if err := decodeJSON(c, &body, 64<<10); err != nil {
		middleware.Fail(c, err)
		return
	}
	if body.Selected == nil {
		middleware.Fail(c, model.Invalid("selected", "is required"))
		return
	}
	vs, err := h.svc.SelectCalendars(c.Request.Context(), middleware.AppFrom(c).ID, c.Param("id"), body.Selected)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	c.JSON(200, calendarsJSON(vs, false))
}

var eventsParams = map[string]bool{"scheduleId": true, "from": true, "to": true, "limit": true, "cursor": true,
	"fieldset": true, "partialFailure": true, "timeZone": true}

// parseQuery reads the shared parameters; withPaging allows limit/cursor.
func (h eventsHandler) parseQuery(c *gin.Context, withPaging bool) (events.Query, string, bool) {
	var q events.Query
	v, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		middleware.Fail(c, model.Invalid("", "the query string is malformed"))
		return q, "", false
	}
	fail := func(err error) (events.Query, string, bool) { middleware.Fail(c, err); return q, "", false }
	for k, vals := range v {
		if !eventsParams[k] || (!withPaging && (k == "limit" || k == "cursor" || k == "fieldset")) {
			return fail(model.Invalid(k, "%q is not a known parameter", k))
		}
		if k != "scheduleId" && len(vals) > 1 {
			return fail(model.Invalid(k, "is given more than once"))
		}
	}
	q.ScheduleIDs = v["scheduleId"]
	switch {
	case len(q.ScheduleIDs) == 0:
		return fail(model.Invalid("scheduleId", "is required"))
	case len(q.ScheduleIDs) > maxSchedules:
		return fail(model.Invalid("scheduleId", "at most %d schedules", maxSchedules))
	}
	for _, s := range q.ScheduleIDs {
		if err := connect.CheckScheduleID(s); err != nil {
			return fail(err)
		}
	}
	if q.OwnPI, err = fieldset(v); err != nil {
		return fail(err)
	}
	q.Location = time.UTC
	if tz := v.Get("timeZone"); tz != "" {
		if tz == "Local" {
			return fail(model.Invalid("timeZone", "must be an IANA time zone"))
		}
		if q.Location, err = time.LoadLocation(tz); err != nil {
			return fail(model.Invalid("timeZone", "must be an IANA time zone"))
		}
	}
	switch b := v.Get("partialFailure"); b {
	case "", "false":
	case "true":
		q.PartialFailure = true
	default:
		return fail(model.Invalid("partialFailure", "must be true or false"))
	}
	q.Limit = defaultEventsMax
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEventsLimit {
			return fail(model.Invalid("limit", "must be a whole number between 1 and %d", maxEventsLimit))
		}
		q.Limit = n
	}
	cur := v.Get("cursor")
	if cur != "" {
		if q.From, q.To, err = h.svc.OpenCursor(cur); err != nil {
			return fail(err)
		}
		// A window given with a cursor must be the cursor's own.
		for _, k := range []string{"from", "to"} {
			if s := v.Get(k); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				want := q.From
				if k == "to" {
					want = q.To
				}
				if err != nil || !t.Equal(want) {
					return fail(events.ErrBadCursor)
				}
			}
		}
		return q, cur, true
	}
	for _, k := range []string{"from", "to"} {
		s := v.Get(k)
		if s == "" {
			return fail(model.Invalid(k, "is required (RFC 3339)"))
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fail(model.Invalid(k, "must be an RFC 3339 date-time"))
		}
		if k == "from" {
			q.From = t
		} else {
			q.To = t
		}
	}
	if !q.To.After(q.From) {
		return fail(model.Invalid("to", "must be after from"))
	}
	if q.To.Sub(q.From) > maxWindow {
		return fail(model.Invalid("to", "the window is at most 366 days"))
	}
	return q, "", true
}

type timeJSON struct {
	DateTime string `json:"dateTime,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
	Date     string `json:"date,omitempty"`
}

type eventJSON struct {
	ID               string   `json:"id"`
	ConnectionID     string   `json:"connectionId"`
	ProviderID       string   `json:"providerId"`
	CalendarID       string   `json:"calendarId"`
	Start            timeJSON `json:"start"`
	End              timeJSON `json:"end"`
	AllDay           bool     `json:"allDay"`
	Status           string   `json:"status"`
	Transparency     string   `json:"transparency"`
	RecurringEventID string   `json:"recurringEventId,omitempty"`
	Updated          string   `json:"updated,omitempty"`
	Title            string   `json:"title,omitempty"`
	CalendarName     string   `json:"calendarName,omitempty"`
}

type failureJSON struct {
	ConnectionID string `json:"connectionId"`
	ProviderID   string `json:"providerId"`
	Code         string `json:"code"`
	Message      string `json:"message"`
}

func failuresJSON(fs []events.Failure) []failureJSON {
	out := make([]failureJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, failureJSON{f.ConnectionID, f.ProviderID, string(f.Code), f.Message})
	}
	return out
}

func (h eventsHandler) events(c *gin.Context) {
	q, cur, ok := h.parseQuery(c, true)
	if !ok {
		return
	}
	page, err := h.svc.List(c.Request.Context(), middleware.AppFrom(c).ID, q, cur)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	zone := q.Location.String()
	out := make([]eventJSON, 0, len(page.Events))
	for _, e := range page.Events {
		j := eventJSON{ID: e.BrokerID, ConnectionID: e.ConnectionID, ProviderID: e.ProviderID, CalendarID: e.CalendarID,
			AllDay: e.AllDay, Status: e.Status, Transparency: e.Transparency, RecurringEventID: e.RecurringEventID,
			Title: e.Title, CalendarName: e.CalendarName}
		if e.AllDay {
			j.Start, j.End = timeJSON{Date: e.StartDate}, timeJSON{Date: e.EndDate}
		} else {
			j.Start = timeJSON{DateTime: e.Start.In(q.Location).Format(time.RFC3339), TimeZone: zone}
			j.End = timeJSON{DateTime: e.End.In(q.Location).Format(time.RFC3339), TimeZone: zone}
		}
		if !e.Updated.IsZero() {
			j.Updated = e.Updated.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	c.JSON(200, gin.H{"events": out, "pagingMetadata": gin.H{"cursor": page.Cursor, "hasNext": page.Cursor != ""},
		"failures": failuresJSON(page.Failures)})
}

func (h eventsHandler) freebusy(c *gin.Context) {
	q, _, ok := h.parseQuery(c, false)
	if !ok {
		return
	}
	busy, fs, err := h.svc.FreeBusy(c.Request.Context(), middleware.AppFrom(c).ID, q)
	if err != nil {
		middleware.Fail(c, err)
		return
	}
	// A struct, not a map, so start comes before end as in docs/api.md.
	type interval struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	out := make([]interval, 0, len(busy))
	for _, b := range busy {
		out = append(out, interval{b.Start.In(q.Location).Format(time.RFC3339), b.End.In(q.Location).Format(time.RFC3339)})
	}
	c.JSON(200, gin.H{"busy": out, "failures": failuresJSON(fs)})
}
