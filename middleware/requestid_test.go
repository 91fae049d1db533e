package middleware

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// engineWith builds a real gin engine with the given middleware.
func engineWith(mw ...gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(mw...)
	return e
}

// perform sends one request through e.
func perform(e http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func TestRequestID(t *testing.T) {
	e := engineWith(RequestID())
	var fromGin, fromCtx string
	e.GET("/x", func(c *gin.Context) {
		fromGin = RequestIDFrom(c)
		fromCtx = RequestIDFrom(c.Request.Context())
		c.Status(http.StatusNoContent)
	})
	tests := []struct {
		name    string
		inbound string
		keep    bool
	}{
		{"none", "", false},
		{"uuid", "4f6c2a1e-8d3b-4c7a-9f0e-1b2c3d4e5f60", true},
		{"printable punctuation", "req:abc/1=2", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"space", "a b", false},
		{"newline injection", "abc\nlevel=ERROR msg=forged", false},
		{"tab", "a\tb", false},
		{"non ASCII", "réq", false},
		{"DEL", "a\x7f", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.inbound != "" {
				r.Header[HeaderRequestID] = []string{tt.inbound}
			}
			w := perform(e, r)
			got := w.Header().Get(HeaderRequestID)
			if tt.keep && got != tt.inbound {
				t.Fatalf("response id = %q, want the inbound %q", got, tt.inbound)
			}
			if !tt.keep && (got == tt.inbound || !validRequestID(got) || len(got) < 20) {
				t.Fatalf("response id = %q, want a fresh one", got)
			}
			if fromGin != got || fromCtx != got {
				t.Fatalf("handler saw %q (gin) and %q (context), response %q", fromGin, fromCtx, got)
			}
		})
	}
	a := perform(e, httptest.NewRequest(http.MethodGet, "/x", nil)).Header().Get(HeaderRequestID)
	b := perform(e, httptest.NewRequest(http.MethodGet, "/x", nil)).Header().Get(HeaderRequestID)
	if a == b {
		t.Fatal("two requests got the same generated id")
	}
}

func TestRequestIDInLogs(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, nil))
	wrapped := slog.New(NewRequestIDHandler(slog.NewTextHandler(&buf, nil))).With("component", "test")
	e := engineWith(RequestID())
	e.GET("/x", func(c *gin.Context) {
		LoggerFrom(c, base).Info("via LoggerFrom")
		wrapped.InfoContext(c.Request.Context(), "via handler")
		wrapped.Info("without context")
	})
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set(HeaderRequestID, "rid-123")
	perform(e, r)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d log lines: %q", len(lines), buf.String())
	}
	for _, l := range lines[:2] {
		if strings.Count(l, "request_id=rid-123") != 1 {
			t.Errorf("line %q lacks exactly one request_id", l)
		}
	}
	if strings.Contains(lines[2], "request_id") {
		t.Errorf("line without context has a request id: %q", lines[2])
	}
	if LoggerFrom(t.Context(), base) != base {
		t.Error("LoggerFrom without an id should return base")
	}
}

// A generated id is 128 random bits in unpadded base32: 26 characters of
// A–Z and 2–7 (the format crypto/rand.Text had, which made them before).
func TestGeneratedRequestIDFormat(t *testing.T) {
	e := engineWith(RequestID())
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	valid := regexp.MustCompile(`^[A-Z2-7]{26}$`)
	seen := map[string]bool{}
	for range 200 {
		id := perform(e, httptest.NewRequest(http.MethodGet, "/x", nil)).Header().Get(HeaderRequestID)
		if !valid.MatchString(id) || seen[id] {
			t.Fatalf("generated id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// NoSniff's value is shared between answers: a handler that adds to or
// replaces the header changes its own answer only.
func TestNoSniffSharedValueStaysIntact(t *testing.T) {
	e := engineWith(NoSniff())
	e.GET("/add", func(c *gin.Context) {
		c.Writer.Header().Add("X-Content-Type-Options", "extra")
		c.Status(http.StatusNoContent)
	})
	e.GET("/set", func(c *gin.Context) {
		c.Writer.Header().Set("X-Content-Type-Options", "other")
		c.Status(http.StatusNoContent)
	})
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	perform(e, httptest.NewRequest(http.MethodGet, "/add", nil))
	perform(e, httptest.NewRequest(http.MethodGet, "/set", nil))
	if got := perform(e, httptest.NewRequest(http.MethodGet, "/x", nil)).Header()["X-Content-Type-Options"]; len(got) != 1 || got[0] != "nosniff" {
		t.Fatalf("X-Content-Type-Options = %q", got)
	}
}
