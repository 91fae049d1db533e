package middleware_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/middleware"
)

// A credential header sent twice is ambiguous (a gateway in front may read
// the other copy) and is refused, even when one copy is valid; one API key
// next to one Authorization stays allowed (the API key wins).
func TestDuplicateCredentialHeadersRefused(t *testing.T) {
	const adminTok = "admin-token-0123456789-0123456789"
	f := newFixture(t, middleware.AuthOptions{AdminToken: adminTok})
	f.eng.GET("/admin", f.auth.Admin(true), func(c *gin.Context) { c.Status(http.StatusOK) })
	a, secretA := f.newApp(t, "app a")
	b, secretB := f.newApp(t, "app b")
	basic := func(id, s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+s)) }
	cases := []struct {
		name, path string
		headers    [][2]string
		status     int
	}{
		{"one API key", "/x", [][2]string{{"X-Api-Key", secretA}}, 200},
		{"API key and Basic", "/x", [][2]string{{"X-Api-Key", secretA}, {"Authorization", basic(b.ID, secretB)}}, 200},
		{"two API keys", "/x", [][2]string{{"X-Api-Key", secretA}, {"X-Api-Key", secretB}}, 401},
		{"the same API key twice", "/x", [][2]string{{"X-Api-Key", secretA}, {"X-Api-Key", secretA}}, 401},
		{"two Basic headers", "/x", [][2]string{{"Authorization", basic(a.ID, secretA)}, {"Authorization", basic(b.ID, secretB)}}, 401},
		{"API key and two Authorization", "/x", [][2]string{{"X-Api-Key", secretA}, {"Authorization", "Bearer x"}, {"Authorization", "Bearer y"}}, 401},
		{"admin bearer", "/admin", [][2]string{{"Authorization", "Bearer " + adminTok}}, 200},
		{"admin bearer twice", "/admin", [][2]string{{"Authorization", "Bearer " + adminTok}, {"Authorization", "Bearer " + adminTok}}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", tc.path, nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			f.eng.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
		})
	}
}
