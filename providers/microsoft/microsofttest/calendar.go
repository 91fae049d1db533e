package microsofttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers/providertest"
)

// CalEvent is one event (or occurrence) of the fake Graph calendar. Start
// and End are instants; with AllDay their dates (in UTC) are the event's
// days, End exclusive. ShowAs is free, tentative, busy (default), oof,
// workingElsewhere or unknown; Type is singleInstance (default),
// occurrence or exception.
type CalEvent struct {
	ID, Subject, ShowAs, Type, SeriesMasterID string
	Start, End                                time.Time
	AllDay, Cancelled                         bool
}

// Calendar is a fake of Graph's calendar read API: GET /me/calendars and
// GET /me/calendars/{id}/calendarView (startDateTime/endDateTime required,
// $select honoured, Prefer: outlook.timezone and odata.maxpagesize, paging
// by @odata.nextLink with $skip), answering only accepted bearer tokens.
// Without $select an event carries what Graph sends: attendees, body,
// location, organizer, online meeting.
type Calendar struct {
	URL string // the apiBaseUrl, ending in /v1.0
	// PageSize caps a page (Graph's own default, without a maxpagesize
	// preference, is 10), to force several provider pages.
	PageSize int
	// NextLinkBase, when set, replaces the fake's own base in nextLinks:
	// a provider steering the client to another origin.
	NextLinkBase string
	// Recorder: Delay, Hook, FailNext, Requests, Calls.
	providertest.Recorder[Request]

	mu        sync.Mutex
	accept    func(token string) bool
	calendars []graphCalendar
	events    map[string][]CalEvent
}

// Request is what the fake saw of one API call.
type Request struct {
	Path   string
	Query  url.Values
	Prefer []string
}

type graphCalendar struct {
	id, name         string
	primary, canEdit bool
}

// NewCalendar starts the fake with a default calendar "AAMkAD-default"
// ("Calendar"), accepting the bearer token token.
func NewCalendar(t testing.TB, token string) *Calendar {
	c := &Calendar{events: map[string][]CalEvent{}}
	c.SetTokens(token)
	c.AddCalendar("AAMkAD-default", "Calendar", true, true)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/v1.0"
	return c
}

// SetTokens replaces the accepted access tokens.
func (c *Calendar) SetTokens(tokens ...string) {
	set := map[string]bool{}
	for _, t := range tokens {
		set[t] = true
	}
	c.Accept(func(t string) bool { return set[t] })
}

// Accept makes the fake accept the tokens valid says are, e.g. the
// AccessTokenValid of the identity platform's fake.
func (c *Calendar) Accept(valid func(token string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accept = valid
}

// AddCalendar adds a calendar to the mailbox.
func (c *Calendar) AddCalendar(id, name string, primary, canEdit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calendars = append(c.calendars, graphCalendar{id: id, name: name, primary: primary, canEdit: canEdit})
}

// Add adds events to a calendar.
func (c *Calendar) Add(calendarID string, evs ...CalEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events[calendarID] = append(c.events[calendarID], evs...)
}

// graphErrors is Graph's code and message for each injected status.
var graphErrors = map[int][2]string{
	401: {"InvalidAuthenticationToken", "Access token has expired or is not yet valid."},
	403: {"ErrorAccessDenied", "Access is denied. Check credentials and try again."},
	404: {"ErrorItemNotFound", "The specified object was not found in the store."},
	429: {"ApplicationThrottled", "Application is over its MailboxConcurrency limit."},
	500: {"ErrorInternalServerError", "An internal server error occurred. The operation failed."},
	503: {"ServiceNotAvailable", "The service is temporarily unavailable."},
	504: {"UnknownError", "Gateway Timeout"},
}

func (c *Calendar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := c.Begin(r, Request{Path: r.URL.Path, Query: r.URL.Query(), Prefer: r.Header.Values("Prefer")})
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("request-id", "00000000-0000-0000-0000-00000000feed")
	if status != 0 {
		if status == 429 {
			w.Header().Set("Retry-After", "10")
		}
		graphError(w, status)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || c.accept == nil || !c.accept(tok) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		graphError(w, 401)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/v1.0")
	if r.Method != http.MethodGet || !ok {
		graphErrorMsg(w, 400, "BadRequest", "Unsupported request.")
		return
	}
	switch {
	case p == "/me/calendars":
		c.listCalendars(w, r)
	case strings.HasPrefix(p, "/me/calendars/") && strings.HasSuffix(p, "/calendarView"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/me/calendars/"), "/calendarView")
		if !slices.ContainsFunc(c.calendars, func(g graphCalendar) bool { return g.id == id }) {
			graphError(w, 404)
			return
		}
		c.calendarView(w, r, id)
	default:
		graphErrorMsg(w, 400, "BadRequest", "Resource not found for the segment '"+strings.Trim(p, "/")+"'.")
	}
}

func (c *Calendar) listCalendars(w http.ResponseWriter, r *http.Request) {
	items := make([]map[string]any, 0, len(c.calendars))
	for _, g := range c.calendars {
		items = append(items, map[string]any{
			"@odata.id": "https://graph.microsoft.com/v1.0/users('ann')/calendars('" + g.id + "')",
			"id":        g.id, "name": g.name, "color": "auto", "hexColor": "", "isDefaultCalendar": g.primary,
			"changeKey": "fJKVL07sbkmIfHqjbDnRgQAAAAAAAA==", "canShare": g.canEdit, "canViewPrivateItems": true, "canEdit": g.canEdit,
			"allowedOnlineMeetingProviders": []string{"teamsForBusiness"}, "defaultOnlineMeetingProvider": "teamsForBusiness",
			"isTallyingResponses": true, "isRemovable": !g.primary,
			"owner": map[string]any{"name": "Ann Example", "address": "ann@contoso.example"},
		})
	}
	c.page(w, r, "https://graph.microsoft.com/v1.0/$metadata#users('ann')/calendars", items)
}

func (c *Calendar) calendarView(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	start, err1 := time.Parse(time.RFC3339, q.Get("startDateTime"))
	end, err2 := time.Parse(time.RFC3339, q.Get("endDateTime"))
	if q.Get("startDateTime") == "" || q.Get("endDateTime") == "" {
		graphErrorMsg(w, 400, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
		return
	}
	if err1 != nil || err2 != nil {
		graphErrorMsg(w, 400, "ErrorInvalidParameter", "The value of the parameter 'StartDateTime' is invalid.")
		return
	}
	zone, loc := "UTC", time.UTC
	if tz := preference(r, "outlook.timezone"); tz != "" {
		if l, err := time.LoadLocation(strings.Trim(tz, `"`)); err == nil {
			zone, loc = strings.Trim(tz, `"`), l
		}
	}
	var sel []CalEvent
	for _, e := range c.events[id] {
		if e.Start.Before(end) && e.End.After(start) {
			sel = append(sel, e)
		}
	}
	slices.SortStableFunc(sel, func(a, b CalEvent) int { return a.Start.Compare(b.Start) })
	items := make([]map[string]any, 0, len(sel))
	for _, e := range sel {
		items = append(items, wireEvent(e, zone, loc))
	}
	c.page(w, r, "https://graph.microsoft.com/v1.0/$metadata#users('ann')/calendars('"+id+"')/calendarView", items)
}

// wireEvent is the event as Graph sends it, everything included.
func wireEvent(e CalEvent, zone string, loc *time.Location) map[string]any {
	const layout = "2006-01-02T15:04:05.0000000"
	st, en := e.Start.In(loc).Format(layout), e.End.In(loc).Format(layout)
	if e.AllDay { // midnight whatever the zone asked for
		st, en = e.Start.UTC().Format(time.DateOnly)+"T00:00:00.0000000", e.End.UTC().Format(time.DateOnly)+"T00:00:00.0000000"
	}
	typ := e.Type
	if typ == "" {
		typ = "singleInstance"
	}
	showAs := e.ShowAs
	if showAs == "" {
		showAs = "busy"
	}
	ev := map[string]any{
		"@odata.etag": `W/"DwAAABYAAAB1"`, "id": e.ID, "createdDateTime": "2026-01-01T00:00:00.0000000Z",
		"lastModifiedDateTime": "2026-01-02T03:04:05.6789012Z", "changeKey": "DwAAABYAAAB1", "categories": []string{},
		"originalStartTimeZone": "W. Europe Standard Time", "originalEndTimeZone": "W. Europe Standard Time",
		"iCalUId": "040000008200E00074C5B7101A82E008-" + e.ID, "reminderMinutesBeforeStart": 15, "isReminderOn": true,
		"hasAttachments": false, "subject": e.Subject, "bodyPreview": "Door code 4711, bring the contract",
		"importance": "normal", "sensitivity": "normal", "isAllDay": e.AllDay, "isCancelled": e.Cancelled,
		"isOrganizer": false, "responseRequested": true, "seriesMasterId": nil, "showAs": showAs, "type": typ,
		"webLink": "https://outlook.office365.com/owa/?itemid=" + e.ID, "onlineMeetingUrl": nil, "isOnlineMeeting": true,
		"onlineMeetingProvider": "teamsForBusiness", "allowNewTimeProposals": true, "isDraft": false, "hideAttendees": false,
		"responseStatus": map[string]any{"response": "accepted", "time": "2026-01-01T00:00:00Z"},
		"body":           map[string]any{"contentType": "html", "content": "<p>Door code 4711, bring the contract</p>"},
		"start":          map[string]any{"dateTime": st, "timeZone": zone},
		"end":            map[string]any{"dateTime": en, "timeZone": zone},
		"location":       map[string]any{"displayName": "Room 4.11, Secret Street 1", "locationType": "default"},
		"locations":      []any{map[string]any{"displayName": "Room 4.11, Secret Street 1"}},
		"recurrence":     nil,
		"attendees": []any{map[string]any{"type": "required", "status": map[string]any{"response": "none"},
			"emailAddress": map[string]any{"name": "Guest Person", "address": "guest@contoso.example"}}},
		"organizer":     map[string]any{"emailAddress": map[string]any{"name": "Boss Person", "address": "boss@contoso.example"}},
		"onlineMeeting": map[string]any{"joinUrl": "https://teams.microsoft.com/l/meetup-join/secret"},
	}
	if e.SeriesMasterID != "" {
		ev["seriesMasterId"] = e.SeriesMasterID
	}
	return ev
}

// page answers one page of items: $select applied, the page size the
// smallest of odata.maxpagesize (default 10), $top and PageSize, and a
// nextLink with $skip when more remain.
func (c *Calendar) page(w http.ResponseWriter, r *http.Request, odataContext string, items []map[string]any) {
	q := r.URL.Query()
	size := 10
	if v, err := strconv.Atoi(preference(r, "odata.maxpagesize")); err == nil && v > 0 {
		size = v
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(v))
	}
	if v, err := strconv.Atoi(q.Get("$top")); err == nil && v > 0 {
		size = min(size, v)
	}
	if c.PageSize > 0 {
		size = min(size, c.PageSize)
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	skip = max(0, min(skip, len(items)))
	endAt := min(skip+size, len(items))
	if sel := q.Get("$select"); sel != "" {
		fields := strings.Split(sel, ",")
		for i, it := range items {
			kept := map[string]any{"@odata.etag": it["@odata.etag"], "id": it["id"]}
			for _, f := range fields {
				if v, ok := it[strings.TrimSpace(f)]; ok {
					kept[strings.TrimSpace(f)] = v
				}
			}
			items[i] = kept
		}
	}
	body := map[string]any{"@odata.context": odataContext, "value": items[skip:endAt]}
	if endAt < len(items) {
		base := c.NextLinkBase
		if base == "" {
			base = "http://" + r.Host
		}
		q.Set("$skip", strconv.Itoa(endAt))
		body["@odata.nextLink"] = base + r.URL.EscapedPath() + "?" + q.Encode()
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

// preference is the value of one preference of the Prefer headers (one
// header or several, comma-separated), "" when absent.
func preference(r *http.Request, name string) string {
	for _, h := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, name) {
				return v
			}
		}
	}
	return ""
}

func graphError(w http.ResponseWriter, status int) {
	e, ok := graphErrors[status]
	if !ok {
		e = [2]string{"UnknownError", http.StatusText(status)}
	}
	graphErrorMsg(w, status, e[0], e[1])
}

func graphErrorMsg(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id": "00000000-0000-0000-0000-00000000feed", "client-request-id": "00000000-0000-0000-0000-00000000feed"}}})
}
