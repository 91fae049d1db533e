package middleware

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRecovery(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	e := engineWith(RequestID(), AccessLog(logger), Recovery(logger))
	e.POST("/boom/:id", func(c *gin.Context) { panic("nil map write in handler") })
	e.GET("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "partial")
		panic("after write")
	})

	r := httptest.NewRequest(http.MethodPost, "/boom/con_1?code=QUERY-SECRET", strings.NewReader(`{"password":"BODY-SECRET"}`))
	r.Header.Set("Authorization", "Bearer HEADER-SECRET")
	w := perform(e, r)
	if w.Code != http.StatusInternalServerError || w.Header().Get(HeaderBrokerError) != "internal" {
		t.Fatalf("status %d, %s %q", w.Code, HeaderBrokerError, w.Header().Get(HeaderBrokerError))
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "internal" {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	if strings.Contains(w.Body.String(), "nil map") {
		t.Fatal("panic value reaches the caller")
	}
	logs := buf.String()
	if strings.Contains(logs, "SECRET") {
		t.Fatalf("log leaks the request: %s", logs)
	}
	lines := logLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("want a panic line and an access line, got %d", len(lines))
	}
	p, access := lines[0], lines[1]
	if p["msg"] != "panic" || p["panic"] != "nil map write in handler" || !strings.Contains(p["stack"].(string), "recovery_test.go") {
		t.Errorf("panic line = %v", p)
	}
	if p["request_id"] != access["request_id"] || p["request_id"] == "" {
		t.Errorf("request ids differ: %v vs %v", p["request_id"], access["request_id"])
	}
	if access["status"] != float64(500) || access["route"] != "/boom/:id" {
		t.Errorf("access line = %v", access)
	}

	// After the handler has written, the response cannot become an envelope.
	buf.Reset()
	w = perform(e, httptest.NewRequest(http.MethodGet, "/late", nil))
	if w.Body.String() != "partial" {
		t.Fatalf("body %q", w.Body.String())
	}
	if !strings.Contains(buf.String(), "after write") {
		t.Fatal("late panic not logged")
	}
}

func TestRecoveryLetsAbortHandlerThrough(t *testing.T) {
	e := engineWith(Recovery(slog.New(slog.DiscardHandler)))
	e.GET("/abort", func(c *gin.Context) { panic(http.ErrAbortHandler) })
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler to reach net/http", p)
		}
	}()
	perform(e, httptest.NewRequest(http.MethodGet, "/abort", nil))
	t.Fatal("no panic")
}
