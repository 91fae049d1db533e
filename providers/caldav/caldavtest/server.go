package caldavtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

// Paths of the fake account: the apiBaseUrl is URL (ending in /dav), the
// principal, the calendar home set and the first calendar below it.
const (
	Prefix    = "/dav"
	Principal = Prefix + "/ann/"
	HomeSet   = Principal + "calendars/"
	// Personal is the calendar every server starts with; its id (the path
	// relative to the apiBaseUrl) is PersonalID.
	Personal   = HomeSet + "personal/"
	PersonalID = "ann/calendars/personal/"
)

// Server is a CalDAV server answering one account.
type Server struct {
	URL string // the apiBaseUrl

	mu        sync.Mutex
	user      string
	passwords map[string]bool
	calendars []caldav.Calendar
	objects   map[string]map[string]caldav.CalendarObject // calendar path → object path →
	fail      []failure
	requests  map[string]int
	delay     time.Duration
}

// NewServer starts a server for user with password, holding the calendar
// Personal.
func NewServer(t testing.TB, user, password string) *Server {
	s := &Server{user: user, passwords: map[string]bool{password: true},
		objects: map[string]map[string]caldav.CalendarObject{}, requests: map[string]int{}}
	s.AddCalendar("personal", "Personal")
	h := &caldav.Handler{Backend: backend{s}, Prefix: Prefix}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method]++
		delay := s.delay
		var status int
		u, p, ok := r.BasicAuth()
		authed := ok && u == s.user && s.passwords[p]
		if len(s.fail) > 0 && authed && (s.fail[0].method == "" || s.fail[0].method == r.Method) {
			status, s.fail = s.fail[0].status, s.fail[1:]
		}
		s.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		switch {
		case !authed:
			w.Header().Set("WWW-Authenticate", `Basic realm="caldav"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		case status == http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", `Basic realm="caldav"`)
			http.Error(w, "Unauthorized", status)
		case status != 0:
			// A body a careless adapter would repeat.
			http.Error(w, "internal trace: secret-marker "+r.URL.String(), status)
		case !strings.HasPrefix(r.URL.Path, Prefix):
			http.NotFound(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + Prefix
	return s
}

// SetPasswords replaces the accepted passwords.
func (s *Server) SetPasswords(pw ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passwords = map[string]bool{}
	for _, p := range pw {
		s.passwords[p] = true
	}
}

type failure struct {
	method string
	status int
}

// FailNext makes the next authenticated requests answer these statuses,
// one each, with a body that must never be repeated.
func (s *Server) FailNext(status ...int) { s.FailNextOn("", status...) }

// FailNextOn is FailNext for requests of one method (REPORT, PROPFIND).
func (s *Server) FailNextOn(method string, status ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range status {
		s.fail = append(s.fail, failure{method, st})
	}
}

// SetDelay makes every answer wait d (latency benchmarks).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests counts the requests of a method (PROPFIND, REPORT, …).
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// AddCalendar adds a calendar below the home set and returns its id.
func (s *Server) AddCalendar(name, displayName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := HomeSet + name + "/"
	s.calendars = append(s.calendars, caldav.Calendar{Path: p, Name: displayName, SupportedComponentSet: []string{ical.CompEvent}})
	s.objects[p] = map[string]caldav.CalendarObject{}
	return strings.TrimPrefix(p, Prefix+"/")
}

// Put stores an iCalendar object (LF or CRLF lines) in a calendar, by the
// calendar's name, as name.ics.
func (s *Server) Put(calendar, name, ics string) error {
	ics = strings.ReplaceAll(strings.ReplaceAll(ics, "\r\n", "\n"), "\n", "\r\n")
	cal, err := ical.NewDecoder(strings.NewReader(ics)).Decode()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := HomeSet + calendar + "/"
	objs, ok := s.objects[cp]
	if !ok {
		return fmt.Errorf("no calendar %q", calendar)
	}
	op := cp + name + ".ics"
	objs[op] = caldav.CalendarObject{Path: op, ModTime: time.Now(), ETag: fmt.Sprintf("%x", time.Now().UnixNano()), Data: cal}
	return nil
}

// MustPut is Put that fails the test on an error.
func (s *Server) MustPut(t testing.TB, calendar, name, ics string) {
	t.Helper()
	if err := s.Put(calendar, name, ics); err != nil {
		t.Fatal(err)
	}
}

// backend is the in-memory caldav.Backend.
type backend struct{ s *Server }

var _ caldav.Backend = backend{}

func norm(p string) string { return strings.TrimSuffix(path.Clean(p), "/") + "/" }

func (backend) CurrentUserPrincipal(context.Context) (string, error) { return Principal, nil }
func (backend) CalendarHomeSetPath(context.Context) (string, error)  { return HomeSet, nil }

func (b backend) CreateCalendar(_ context.Context, c *caldav.Calendar) error {
	return webdav.NewHTTPError(http.StatusForbidden, nil)
}

func (b backend) ListCalendars(context.Context) ([]caldav.Calendar, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return slices.Clone(b.s.calendars), nil
}

func (b backend) GetCalendar(_ context.Context, p string) (*caldav.Calendar, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	for _, c := range b.s.calendars {
		if c.Path == norm(p) {
			return &c, nil
		}
	}
	return nil, webdav.NewHTTPError(http.StatusNotFound, nil)
}

func (b backend) GetCalendarObject(_ context.Context, p string, _ *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if o, ok := b.s.objects[norm(path.Dir(p))][p]; ok {
		return &o, nil
	}
	return nil, webdav.NewHTTPError(http.StatusNotFound, nil)
}

func (b backend) ListCalendarObjects(_ context.Context, p string, _ *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	objs, ok := b.s.objects[norm(p)]
	if !ok {
		return nil, webdav.NewHTTPError(http.StatusNotFound, nil)
	}
	out := make([]caldav.CalendarObject, 0, len(objs))
	for _, o := range objs {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b caldav.CalendarObject) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// QueryCalendarObjects matches with go-webdav's own caldav.Match. Like a
// lenient server, it returns an object it cannot evaluate (a TZID that is
// no IANA name) rather than failing the REPORT.
func (b backend) QueryCalendarObjects(ctx context.Context, p string, q *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	all, err := b.ListCalendarObjects(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if ok, err := caldav.Match(q.CompFilter, &o); ok || err != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

func (b backend) PutCalendarObject(_ context.Context, p string, cal *ical.Calendar, _ *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	return nil, webdav.NewHTTPError(http.StatusForbidden, nil)
}

func (b backend) DeleteCalendarObject(context.Context, string) error {
	return webdav.NewHTTPError(http.StatusForbidden, nil)
}
