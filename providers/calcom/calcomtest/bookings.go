package calcomtest

import (
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

// Booking is one booking of the fake. Status is accepted (default),
// pending, cancelled or rejected.
type Booking struct {
	ID                int
	UID, Title        string
	Status            string
	Start, End        time.Time
	RecurringUID      string
	Updated           time.Time // zero: updatedAt is null, as for a booking never changed
	attendeeEmailSeed int
}

// Bookings is a fake of Cal.com's API v2 GET /v2/bookings as of
// cal-api-version 2024-08-13: the version header required, afterStart
// (start at or after) and beforeEnd (end at or before), sortStart, take
// (1–250, default 100) and skip, the pagination object, and Cal.com's error
// envelope. Each booking carries what Cal.com sends: attendees, hosts,
// description, location, meeting URL and booking-field responses.
type Bookings struct {
	URL string // the apiBaseUrl, ending in /v2
	// PageSize caps take, to force several provider pages.
	PageSize int
	// Recorder: Delay, Hook, FailNext, Requests, Calls.
	providertest.Recorder[Request]

	mu       sync.Mutex
	accept   func(token string) bool
	bookings []Booking
}

// Request is what the fake saw of one API call.
type Request struct {
	Path       string
	Query      url.Values
	APIVersion string
}

// NewBookings starts the fake accepting the bearer token token.
func NewBookings(t testing.TB, token string) *Bookings {
	b := &Bookings{}
	b.SetTokens(token)
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	b.URL = srv.URL + "/v2"
	return b
}

// SetTokens replaces the accepted access tokens.
func (b *Bookings) SetTokens(tokens ...string) {
	set := map[string]bool{}
	for _, t := range tokens {
		set[t] = true
	}
	b.Accept(func(t string) bool { return set[t] })
}

// Accept makes the fake accept the tokens valid says are, e.g. the
// AccessTokenValid of the OAuth fake.
func (b *Bookings) Accept(valid func(token string) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.accept = valid
}

// Add adds bookings; a booking without ID or UID gets them.
func (b *Bookings) Add(bs ...Booking) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range bs {
		n := len(b.bookings) + 1
		if x.ID == 0 {
			x.ID = 1000 + n
		}
		if x.UID == "" {
			x.UID = "bk" + strconv.Itoa(x.ID) + "aBcD"
		}
		x.attendeeEmailSeed = n
		b.bookings = append(b.bookings, x)
	}
}

// calErrors is Cal.com's error code and message for each injected status.
var calErrors = map[int][2]string{
	400: {"BadRequestException", "Bad Request"},
	401: {"UnauthorizedException", "Invalid Access Token."},
	403: {"ForbiddenException", "Insufficient permissions to access this resource (READ_BOOKING)."},
	404: {"NotFoundException", "Cannot GET the resource"},
	429: {"ThrottlerException", "ThrottlerException: Too Many Requests"},
	500: {"InternalServerErrorException", "Internal server error"},
	502: {"BadGatewayException", "Bad Gateway"},
	503: {"ServiceUnavailableException", "Service Unavailable"},
}

func (b *Bookings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := b.Begin(r, Request{Path: r.URL.Path, Query: r.URL.Query(), APIVersion: r.Header.Get("cal-api-version")})
	b.mu.Lock()
	defer b.mu.Unlock()
	if status != 0 {
		if status == 429 {
			w.Header().Set("Retry-After", "60")
		}
		calError(w, r, status, "")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || b.accept == nil || !b.accept(tok) {
		calError(w, r, 401, "")
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/v2/bookings" {
		calError(w, r, 404, "Cannot "+r.Method+" "+r.URL.Path)
		return
	}
	// Without the version the request would reach the older bookings
	// controller, whose answer has another shape; the fake refuses it.
	if v := r.Header.Get("cal-api-version"); v != APIVersion {
		calError(w, r, 400, "cal-api-version "+APIVersion+" required by this fake, got "+strconv.Quote(v))
		return
	}
	b.list(w, r)
}

func (b *Bookings) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	take, skip := 100, 0
	if v := q.Get("take"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 250 {
			calError(w, r, 400, "take must not be greater than 250")
			return
		}
		take = n
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			calError(w, r, 400, "skip must not be less than 0")
			return
		}
		skip = n
	}
	var after, before time.Time
	for name, dst := range map[string]*time.Time{"afterStart": &after, "beforeEnd": &before} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				calError(w, r, 400, name+" must be a valid ISO 8601 date.")
				return
			}
			*dst = t
		}
	}
	var sel []Booking
	for _, x := range b.bookings {
		if (!after.IsZero() && x.Start.Before(after)) || (!before.IsZero() && x.End.After(before)) {
			continue
		}
		sel = append(sel, x)
	}
	switch q.Get("sortStart") {
	case "asc":
		slices.SortStableFunc(sel, func(a, c Booking) int { return a.Start.Compare(c.Start) })
	case "desc":
		slices.SortStableFunc(sel, func(a, c Booking) int { return c.Start.Compare(a.Start) })
	}
	size := take
	if b.PageSize > 0 {
		size = min(size, b.PageSize)
	}
	from := min(skip, len(sel))
	to := min(from+size, len(sel))
	data := make([]map[string]any, 0, to-from)
	for _, x := range sel[from:to] {
		data = append(data, wireBooking(x))
	}
	pages := (len(sel) + size - 1) / size
	providertest.WriteJSON(w, 200, map[string]any{"status": "success", "data": data, "pagination": map[string]any{
		"totalItems": len(sel), "remainingItems": len(sel) - to, "returnedItems": len(data), "itemsPerPage": size,
		"currentPage": from/size + 1, "totalPages": pages, "hasNextPage": to < len(sel), "hasPreviousPage": from > 0,
	}})
}

// wireBooking is a booking as Cal.com sends it, everything included.
func wireBooking(x Booking) map[string]any {
	status := x.Status
	if status == "" {
		status = "accepted"
	}
	const layout = "2006-01-02T15:04:05.000Z"
	var updated any
	if !x.Updated.IsZero() {
		updated = x.Updated.UTC().Format(layout)
	}
	guest := "guest" + strconv.Itoa(x.attendeeEmailSeed) + "@attendee.example"
	m := map[string]any{
		"id": x.ID, "uid": x.UID, "title": x.Title, "description": "Please call me on +44 20 7946 0000",
		"hosts":  []any{map[string]any{"id": 7, "name": "Fay Example", "email": "fay@cal.example", "username": "fay", "timeZone": "Europe/London"}},
		"status": status, "start": x.Start.UTC().Format(layout), "end": x.End.UTC().Format(layout),
		"duration": int(x.End.Sub(x.Start) / time.Minute), "eventTypeId": 42, "eventType": map[string]any{"id": 42, "slug": "consultation"},
		"meetingUrl": "https://app.cal.com/video/secret-room", "location": "https://app.cal.com/video/secret-room", "absentHost": false,
		"createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": updated, "metadata": map[string]any{}, "rating": nil,
		"icsUid": x.UID + "@Cal.com",
		"attendees": []any{map[string]any{"name": "Guest Person", "email": guest, "timeZone": "Europe/Paris",
			"language": "en", "absent": false, "phoneNumber": "+33 1 23 45 67 89"}},
		"guests":                 []string{"plusone@attendee.example"},
		"bookingFieldsResponses": map[string]any{"name": "Guest Person", "email": guest, "notes": "allergic to cats"},
	}
	switch status {
	case "cancelled", "rejected":
		m["cancellationReason"] = "Guest is ill"
	}
	if x.RecurringUID != "" {
		m["recurringBookingUid"] = x.RecurringUID
	}
	return m
}

func calError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	e, ok := calErrors[status]
	if !ok {
		e = [2]string{"HttpException", http.StatusText(status)}
	}
	if msg != "" {
		e[1] = msg
	}
	providertest.WriteJSON(w, status, map[string]any{"status": "error", "timestamp": time.Now().UTC().Format(time.RFC3339),
		"path": r.URL.Path, "error": map[string]any{"code": e[0], "message": e[1]}})
}
