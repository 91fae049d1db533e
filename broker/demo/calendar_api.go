package demo

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Google Calendar v3 list bounds.
const (
	defaultMaxResults = 250
	maxMaxResults     = 2500
	maxFreeBusyItems  = 50
)

// calendarAPI serves {base}/calendar/v3/… in Google Calendar v3's wire
// format: calendarList, calendars, events (list and get) and freeBusy.
// The demo calendars are read-only: a write is 403 as Google answers a
// reader.
func (s *Server) calendarAPI(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.bearer(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		googleError(w, http.StatusUnauthorized, "authError", "Request had invalid authentication credentials.")
		return
	}
	seg, ok := segments(strings.TrimPrefix(r.URL.EscapedPath(), Path+"/calendar/v3/"))
	if !ok {
		googleError(w, http.StatusNotFound, "notFound", "Not Found")
		return
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(seg) == 1 && seg[0] == "freeBusy" && r.Method == http.MethodPost:
		s.freeBusy(w, r)
	case len(seg) == 3 && seg[0] == "users" && seg[1] == "me" && seg[2] == "calendarList" && read:
		s.calendarList(w)
	case len(seg) == 4 && seg[0] == "users" && seg[1] == "me" && seg[2] == "calendarList" && read:
		s.withCalendar(w, seg[3], func(ci calendarInfo) { writeJSON(w, http.StatusOK, listEntry(ci)) })
	case len(seg) == 2 && seg[0] == "calendars" && read:
		s.withCalendar(w, seg[1], func(ci calendarInfo) { writeJSON(w, http.StatusOK, calendarJSON(ci)) })
	case len(seg) == 3 && seg[0] == "calendars" && seg[2] == "events" && read:
		s.withCalendar(w, seg[1], func(ci calendarInfo) { s.listEvents(w, r, ci) })
	case len(seg) == 4 && seg[0] == "calendars" && seg[2] == "events" && read:
		s.withCalendar(w, seg[1], func(ci calendarInfo) { s.getEvent(w, ci, seg[3]) })
	case len(seg) >= 1 && (seg[0] == "calendars" || seg[0] == "users") && !read:
		googleError(w, http.StatusForbidden, "forbidden", "The demo calendars are read-only.")
	default:
		googleError(w, http.StatusNotFound, "notFound", "Not Found")
	}
}

func (s *Server) withCalendar(w http.ResponseWriter, id string, fn func(calendarInfo)) {
	ci, ok := s.cal.find(id)
	if !ok {
		googleError(w, http.StatusNotFound, "notFound", "Not Found")
		return
	}
	fn(ci)
}

func (s *Server) calendarList(w http.ResponseWriter) {
	items := make([]map[string]any, 0, len(s.cal.cals))
	for _, ci := range s.cal.cals {
		items = append(items, listEntry(ci))
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "calendar#calendarList", "etag": `"demo-list"`, "items": items})
}

func listEntry(ci calendarInfo) map[string]any {
	m := calendarJSON(ci)
	m["kind"] = "calendar#calendarListEntry"
	m["accessRole"] = ci.accessRole
	m["selected"] = true
	m["defaultReminders"] = []any{}
	if ci.primary {
		m["primary"] = true
	}
	return m
}

func calendarJSON(ci calendarInfo) map[string]any {
	return map[string]any{"kind": "calendar#calendar", "etag": `"demo-` + ci.accessRole + `"`,
		"id": ci.id, "summary": ci.summary, "timeZone": calendarTZ}
}

// listEvents is events.list: timeMin/timeMax (RFC 3339: an event counts
// when it ends after timeMin and starts before timeMax), singleEvents,
// orderBy=startTime (only with singleEvents), maxResults and pageToken.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, ci calendarInfo) {
	q := r.URL.Query()
	from, ok1 := parseTime(q.Get("timeMin"))
	to, ok2 := parseTime(q.Get("timeMax"))
	if !ok1 || !ok2 {
		googleError(w, http.StatusBadRequest, "badRequest", "Bad Request")
		return
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		googleError(w, http.StatusBadRequest, "timeRangeEmpty", "The specified time range is empty.")
		return
	}
	single := q.Get("singleEvents") == "true"
	if ob := q.Get("orderBy"); ob != "" && ob != "updated" && (ob != "startTime" || !single) {
		googleError(w, http.StatusBadRequest, "badRequest", "The requested ordering is not available for the particular query.")
		return
	}
	limit := defaultMaxResults
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			googleError(w, http.StatusBadRequest, "invalid", "Invalid value for maxResults")
			return
		}
		limit = min(n, maxMaxResults)
	}
	offset := 0
	if v := q.Get("pageToken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			googleError(w, http.StatusBadRequest, "invalid", "Invalid page token value")
			return
		}
		offset = n
	}
	all := s.cal.instances(ci.id, from, to, single)
	items := make([]map[string]any, 0, limit)
	for i := offset; i < len(all) && len(items) < limit; i++ {
		items = append(items, eventJSON(all[i]))
	}
	out := map[string]any{
		"kind": "calendar#events", "etag": `"demo-events"`, "summary": ci.summary, "timeZone": calendarTZ,
		"updated": s.cal.events[0].updated.Format(time.RFC3339), "accessRole": ci.accessRole,
		"defaultReminders": []any{}, "items": items,
	}
	if next := offset + len(items); next < len(all) {
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(next)))
	} else {
		out["nextSyncToken"] = "demo-sync-" + strconv.Itoa(len(all))
	}
	writeJSON(w, http.StatusOK, out)
}

// getEvent is events.get, for an event or one occurrence of a recurring one.
func (s *Server) getEvent(w http.ResponseWriter, ci calendarInfo, id string) {
	for _, in := range s.cal.instances(ci.id, time.Time{}, time.Time{}, true) {
		if in.instanceID() == id || (in.id == id && !in.recurring) {
			writeJSON(w, http.StatusOK, eventJSON(in))
			return
		}
	}
	for _, e := range s.cal.events {
		if e.id == id && e.calendar == ci.id {
			writeJSON(w, http.StatusOK, eventJSON(instance{event: e, start: e.start, end: e.end}))
			return
		}
	}
	googleError(w, http.StatusNotFound, "notFound", "Not Found")
}

// eventJSON is an Event resource of Google Calendar v3.
func eventJSON(in instance) map[string]any {
	e := in.event
	m := map[string]any{
		"kind": "calendar#event", "etag": `"` + strconv.FormatInt(e.updated.UnixMicro(), 10) + `"`,
		"id": in.instanceID(), "status": e.status, "summary": e.summary,
		"created": e.updated.Format(time.RFC3339), "updated": e.updated.Format(time.RFC3339),
		"creator":   map[string]any{"email": Account.Email, "self": true},
		"organizer": map[string]any{"email": Account.Email, "displayName": Account.Name, "self": true},
		"start":     when(in.start, e.allDay), "end": when(in.end, e.allDay),
		"iCalUID": e.id + "@demo.oauthbroker", "sequence": 0, "eventType": "default",
		"reminders": map[string]any{"useDefault": true},
	}
	if e.description != "" {
		m["description"] = e.description
	}
	if e.location != "" {
		m["location"] = e.location
	}
	if e.transparent {
		m["transparency"] = "transparent"
	}
	if in.recurring {
		m["recurringEventId"] = e.id
		m["originalStartTime"] = when(in.start, e.allDay)
	} else if r := e.recurrence(); r != nil {
		m["recurrence"] = r
	}
	if len(e.attendees) > 0 {
		as := []map[string]any{{"email": Account.Email, "organizer": true, "self": true, "responseStatus": "accepted"}}
		for _, a := range e.attendees {
			status := "accepted"
			if e.status == "tentative" {
				status = "tentative"
			}
			as = append(as, map[string]any{"email": a, "responseStatus": status})
		}
		m["attendees"] = as
	}
	return m
}

func when(t time.Time, allDay bool) map[string]any {
	if allDay {
		return map[string]any{"date": t.UTC().Format(time.DateOnly)}
	}
	return map[string]any{"dateTime": t.UTC().Format(time.RFC3339), "timeZone": calendarTZ}
}

// freeBusy is POST /freeBusy: {timeMin, timeMax, items:[{id}]}.
func (s *Server) freeBusy(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TimeMin, TimeMax string
		Items            []struct{ ID string }
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		googleError(w, http.StatusBadRequest, "parseError", "Parse Error")
		return
	}
	from, ok1 := parseTime(in.TimeMin)
	to, ok2 := parseTime(in.TimeMax)
	switch {
	case !ok1 || !ok2 || from.IsZero() || to.IsZero():
		googleError(w, http.StatusBadRequest, "required", "Missing timeMin or timeMax.")
		return
	case !to.After(from):
		googleError(w, http.StatusBadRequest, "timeRangeEmpty", "The specified time range is empty.")
		return
	case len(in.Items) > maxFreeBusyItems:
		googleError(w, http.StatusBadRequest, "tooManyCalendarsRequested", "Too many calendars requested.")
		return
	}
	cals := map[string]any{}
	for _, it := range in.Items {
		ci, ok := s.cal.find(it.ID)
		if !ok {
			cals[it.ID] = map[string]any{"busy": []any{}, "errors": []any{map[string]string{"domain": "global", "reason": "notFound"}}}
			continue
		}
		busy := []map[string]string{}
		for _, b := range s.cal.busy(ci.id, from, to) {
			busy = append(busy, map[string]string{"start": b[0].UTC().Format(time.RFC3339), "end": b[1].UTC().Format(time.RFC3339)})
		}
		cals[it.ID] = map[string]any{"busy": busy}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "calendar#freeBusy",
		"timeMin": from.UTC().Format(time.RFC3339), "timeMax": to.UTC().Format(time.RFC3339), "calendars": cals})
}

// parseTime reads an optional RFC 3339 time ("" is the zero time).
func parseTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// segments splits an escaped path into decoded segments, refusing empty,
// dot and undecodable ones.
func segments(p string) ([]string, bool) {
	parts := strings.Split(p, "/")
	for i, raw := range parts {
		v, err := url.PathUnescape(raw)
		if err != nil || v == "" || v == "." || v == ".." {
			return nil, false
		}
		parts[i] = v
	}
	return parts, true
}

// googleError writes Google's JSON error envelope.
func googleError(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": msg, "status": statusName(status),
		"errors": []map[string]string{{"domain": "global", "reason": reason, "message": msg}},
	}})
}

func statusName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	default:
		return "UNKNOWN"
	}
}
