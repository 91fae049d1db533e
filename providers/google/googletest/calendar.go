package googletest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers/providertest"
)

// CalEvent is one event (or occurrence) of the fake calendar API. Start and
// End are instants for a timed event; Date/EndDate (YYYY-MM-DD) make it
// all-day.
type CalEvent struct {
	ID, Summary, Status, Transparency, RecurringEventID string
	Start, End                                          time.Time
	Date, EndDate                                       string
	// Private fields a real answer carries and the broker must never show.
	Description, Location string
}

// Calendar is a fake of the Calendar v3 read API (calendarList.list,
// events.list with singleEvents, orderBy=startTime, timeMin/timeMax,
// maxResults, pageToken, showDeleted) answering only the bearer tokens it
// accepts: its own list, or those the OAuth fake it was made for has issued
// and not expired (NewCalendarFor).
type Calendar struct {
	URL string // the apiBaseUrl
	// PageSize caps maxResults, to force several provider pages.
	PageSize int
	// Delay is waited before each answer (latency benchmarks, deadlines);
	// a request given up by the client ends the wait. Set it before use,
	// or with SetDelay while requests run.
	Delay time.Duration
	// OnRequest, when set, sees each request before it is answered (a
	// test expiring tokens between provider pages).
	OnRequest func(r *http.Request)

	mu        sync.Mutex
	tokens    map[string]bool
	accept    func(token string) bool
	calendars []map[string]any
	events    map[string][]CalEvent
	calls     int
	fail      failure
	// answers caches rendered events pages (by calendar and query) until
	// the data changes, so the fake's own cost stays out of benchmarks.
	answers map[string][]byte
}

type failure struct{ status, left int }

// NewCalendar starts the fake with a primary calendar "primary@example.com",
// accepting only token.
func NewCalendar(t testing.TB, token string) *Calendar {
	c := &Calendar{tokens: map[string]bool{token: true}, events: map[string][]CalEvent{}}
	c.AddCalendar("primary@example.com", "Ann's calendar", true)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	c.URL = srv.URL + "/calendar/v3"
	return c
}

// NewCalendarFor starts the fake for the account of an OAuth fake: it
// accepts exactly the access tokens oauth would (so expiring them there
// makes the calendar answer 401 and the broker refresh).
func NewCalendarFor(t testing.TB, oauth *providertest.Server) *Calendar {
	c := NewCalendar(t, "")
	c.SetTokens()
	c.accept = oauth.AccessTokenValid
	return c
}

// SetDelay changes Delay safely while requests run.
func (c *Calendar) SetDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Delay = d
}

// Fail makes the next n answers (n < 0: every one until Fail(0, 0)) a
// Google error with that status, after the credential check: 403 as a
// token without the calendar scope, 429 as a rate limit, 5xx as a backend
// error.
func (c *Calendar) Fail(status, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = failure{status, n}
}

// SetTokens replaces the accepted access tokens.
func (c *Calendar) SetTokens(tokens ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = map[string]bool{}
	for _, t := range tokens {
		c.tokens[t] = true
	}
}

// AddCalendar adds a calendar to the account.
func (c *Calendar) AddCalendar(id, summary string, primary bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers = nil
	c.calendars = append(c.calendars, map[string]any{"kind": "calendar#calendarListEntry", "id": id,
		"summary": summary, "primary": primary, "accessRole": "owner", "timeZone": "Europe/Berlin"})
}

// Add adds events to a calendar.
func (c *Calendar) Add(calendarID string, evs ...CalEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers = nil
	c.events[calendarID] = append(c.events[calendarID], evs...)
}

// Calls counts the API requests answered.
func (c *Calendar) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *Calendar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.OnRequest != nil {
		c.OnRequest(r)
	}
	c.mu.Lock()
	delay := c.Delay
	c.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !c.tokens[tok] && (c.accept == nil || !c.accept(tok)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		gerr(w, 401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
		return
	}
	if c.fail.left != 0 {
		if c.fail.left > 0 {
			c.fail.left--
		}
		c.writeFailure(w, c.fail.status)
		return
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/calendar/v3")
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	switch {
	case path == "/users/me/calendarList":
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "calendar#calendarList", "items": c.calendars})
	case strings.HasPrefix(path, "/calendars/") && strings.HasSuffix(path, "/events"):
		id, err := unescape(strings.TrimSuffix(strings.TrimPrefix(path, "/calendars/"), "/events"))
		if _, ok := c.events[id]; err != nil || !ok && !c.hasCalendar(id) {
			gerr(w, 404, "Not Found", "NOT_FOUND")
			return
		}
		c.list(w, r, id)
	default:
		gerr(w, 404, "Not Found", "NOT_FOUND")
	}
}

// writeFailure answers as Google does for each kind of refusal.
func (c *Calendar) writeFailure(w http.ResponseWriter, status int) {
	switch {
	case status == http.StatusForbidden:
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="https://www.googleapis.com/auth/calendar.readonly"`)
		gerr(w, status, "Request had insufficient authentication scopes.", "PERMISSION_DENIED")
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "30")
		gerr(w, status, "Rate Limit Exceeded", "RESOURCE_EXHAUSTED")
	case status >= 500:
		gerr(w, status, "Backend Error", "INTERNAL")
	default:
		gerr(w, status, http.StatusText(status), "FAILED_PRECONDITION")
	}
}

func (c *Calendar) hasCalendar(id string) bool {
	return slices.ContainsFunc(c.calendars, func(m map[string]any) bool { return m["id"] == id })
}

func (c *Calendar) list(w http.ResponseWriter, r *http.Request, id string) {
	key := id + "?" + r.URL.RawQuery
	if b, ok := c.answers[key]; ok {
		_, _ = w.Write(b)
		return
	}
	q := r.URL.Query()
	if q.Get("singleEvents") != "true" || q.Get("orderBy") != "startTime" {
		gerr(w, 400, "The requested ordering is not available for the particular query.", "INVALID_ARGUMENT")
		return
	}
	tmin, err1 := time.Parse(time.RFC3339, q.Get("timeMin"))
	tmax, err2 := time.Parse(time.RFC3339, q.Get("timeMax"))
	max, err3 := strconv.Atoi(q.Get("maxResults"))
	if err1 != nil || err2 != nil || err3 != nil || max < 1 || max > 2500 {
		gerr(w, 400, "Bad Request", "INVALID_ARGUMENT")
		return
	}
	if c.PageSize > 0 && max > c.PageSize {
		max = c.PageSize
	}
	var sel []CalEvent
	for _, e := range c.events[id] {
		st, en := e.Start, e.End
		if e.Date != "" {
			st, _ = time.Parse(time.DateOnly, e.Date)
			en, _ = time.Parse(time.DateOnly, e.EndDate)
		}
		if (e.Status == "cancelled" && q.Get("showDeleted") != "true") || !en.After(tmin) || !st.Before(tmax) {
			continue
		}
		sel = append(sel, e)
	}
	slices.SortStableFunc(sel, func(a, b CalEvent) int { return a.Start.Compare(b.Start) })
	off, _ := strconv.Atoi(q.Get("pageToken"))
	if off > len(sel) {
		off = len(sel)
	}
	end := min(off+max, len(sel))
	items := make([]map[string]any, 0, end-off)
	for _, e := range sel[off:end] {
		it := map[string]any{"kind": "calendar#event", "id": e.ID, "status": or(e.Status, "confirmed"),
			"summary": e.Summary, "description": e.Description, "location": e.Location,
			"attendees": []any{map[string]any{"email": "guest@example.com"}}, "organizer": map[string]any{"email": "boss@example.com"},
			"hangoutLink": "https://meet.google.com/abc", "updated": "2026-01-01T00:00:00.000Z"}
		if e.Transparency != "" {
			it["transparency"] = e.Transparency
		}
		if e.RecurringEventID != "" {
			it["recurringEventId"] = e.RecurringEventID
		}
		if e.Date != "" {
			it["start"], it["end"] = map[string]any{"date": e.Date}, map[string]any{"date": e.EndDate}
		} else {
			it["start"] = map[string]any{"dateTime": e.Start.Format(time.RFC3339), "timeZone": "Europe/Berlin"}
			it["end"] = map[string]any{"dateTime": e.End.Format(time.RFC3339), "timeZone": "Europe/Berlin"}
		}
		items = append(items, it)
	}
	body := map[string]any{"kind": "calendar#events", "timeZone": "Europe/Berlin", "items": items}
	if end < len(sel) {
		body["nextPageToken"] = strconv.Itoa(end)
	}
	b, _ := json.Marshal(body)
	if c.answers == nil {
		c.answers = map[string][]byte{}
	}
	c.answers[key] = b
	_, _ = w.Write(b)
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func unescape(s string) (string, error) {
	r := strings.NewReplacer("%40", "@", "%2F", "/", "%2f", "/", "%23", "#")
	return r.Replace(s), nil
}

func gerr(w http.ResponseWriter, code int, msg, status string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}
