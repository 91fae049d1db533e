package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

func TestSecureHeaders(t *testing.T) {
	e := engineWith(NoStore(), SecurityHeaders())
	e.GET("/page", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", []byte("<p>hi</p>")) })
	e.GET("/redirect", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "https://app.example.com/cb?connectionId=con_1") })
	e.GET("/fail", func(c *gin.Context) { Fail(c, model.Invalid("state", "invalid state")) })
	want := map[string]string{
		"Cache-Control":          "no-store",
		"Pragma":                 "no-cache",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	}
	for _, path := range []string{"/page", "/redirect", "/fail"} {
		t.Run(path, func(t *testing.T) {
			w := perform(e, httptest.NewRequest(http.MethodGet, path, nil))
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
