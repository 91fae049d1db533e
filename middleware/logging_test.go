package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	e := engineWith(RequestID(), AccessLog(logger))
	e.GET("/oauth/callback", func(c *gin.Context) { c.String(http.StatusOK, "hello") })
	e.GET("/v1/connections/:id", func(c *gin.Context) {
		setApp(c, &model.App{ID: "app_abc"})
		_ = c.Error(errors.New("store: lookup failed")).SetMeta("meta-SECRET")
		c.JSON(http.StatusInternalServerError, gin.H{"ok": false})
	})

	tests := []struct {
		name   string
		target string
		status int
		route  string
		app    string
		level  string
		errs   string
	}{
		{"callback query is never logged", "/oauth/callback?code=CODE-SECRET&state=STATE-SECRET", 200, "/oauth/callback", "", "INFO", ""},
		{"route template, app id and errors", "/v1/connections/con_SECRETID?token=TOKEN-SECRET", 500, "/v1/connections/:id", "app_abc", "ERROR", "store: lookup failed"},
		{"unmatched path", "/nope/PATH-SECRET?x=QUERY-SECRET", 404, "unmatched", "", "INFO", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			r.Header.Set("Authorization", "Bearer HEADER-SECRET")
			r.Header.Set("X-Api-Key", "bks_HEADER-SECRET")
			r.Header.Set("Cookie", "broker_bind=COOKIE-SECRET")
			r.Header.Set(HeaderRequestID, "rid-1")
			w := perform(e, r)
			if w.Code != tt.status {
				t.Fatalf("status %d", w.Code)
			}
			if strings.Contains(buf.String(), "SECRET") {
				t.Fatalf("log leaks: %s", buf.String())
			}
			lines := logLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("%d log lines", len(lines))
			}
			l := lines[0]
			want := map[string]any{"msg": "request", "method": "GET", "route": tt.route, "status": float64(tt.status), "request_id": "rid-1", "level": tt.level}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("%s = %v, want %v", k, l[k], v)
				}
			}
			if _, ok := l["duration"]; !ok {
				t.Error("no duration")
			}
			if tt.status == 200 && l["bytes"] != float64(len("hello")) {
				t.Errorf("bytes = %v", l["bytes"])
			}
			if got, _ := l["app_id"].(string); got != tt.app {
				t.Errorf("app_id = %q, want %q", got, tt.app)
			}
			if tt.errs != "" {
				errs, _ := l["errors"].([]any)
				if len(errs) != 1 || errs[0] != tt.errs {
					t.Errorf("errors = %v", l["errors"])
				}
			} else if _, ok := l["errors"]; ok {
				t.Errorf("unexpected errors %v", l["errors"])
			}
		})
	}
}

// A 5xx answered to a caller that already hung up is not a broker failure:
// it is logged at info, while the same 5xx for a caller still waiting is an
// error.
func TestAccessLogCallerGoneIsNotAnError(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	e := engineWith(AccessLog(logger))
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusInternalServerError) })
	for _, tc := range []struct {
		gone bool
		want string
	}{{false, "ERROR"}, {true, "INFO"}} {
		buf.Reset()
		ctx, cancel := context.WithCancel(context.Background())
		if tc.gone {
			cancel()
		}
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(ctx))
		cancel()
		if got := logLines(t, &buf)[0]["level"]; got != tc.want {
			t.Fatalf("caller gone=%v: level %v, want %s", tc.gone, got, tc.want)
		}
	}
}
