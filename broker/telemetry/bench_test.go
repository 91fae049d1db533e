package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

type nopRT struct{ resp *http.Response }

func (n nopRT) RoundTrip(*http.Request) (*http.Response, error) { return n.resp, nil }

// The per-request cost of the metrics on the hot path: the server
// histogram, the client histogram and the token cache counter, against the
// same work with telemetry off.
//
//	go test -run '^$' -bench . -benchmem ./broker/telemetry/
func BenchmarkHotPath(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			tel, err := New(context.Background(), Options{Prometheus: on, Getenv: func(string) string { return "" }})
			if err != nil {
				b.Fatal(err)
			}
			gin.SetMode(gin.ReleaseMode)
			e := gin.New()
			e.Use(tel.Server()...)
			rt := tel.Transport(nopRT{&http.Response{StatusCode: 200, Body: http.NoBody}})
			m := tel.Metrics()
			e.GET("/proxy/:connectionId/*path", func(c *gin.Context) {
				m.TokenCache(c, true)
				out, _ := http.NewRequestWithContext(c.Request.Context(), "GET", "http://api.example.com/x", nil)
				resp, _ := rt.RoundTrip(out)
				c.Status(resp.StatusCode)
			})
			req := httptest.NewRequest("GET", "/proxy/con_1/calendars/primary/events", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e.ServeHTTP(w, req)
			}
		})
	}
}
