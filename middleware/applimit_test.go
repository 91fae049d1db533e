package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/middleware"
)

// Each app gets its own bucket: the broker-wide rate, or the app's own
// rateLimit when set; refusals are 429 with Retry-After, and time refills.
func TestAppRateLimits(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{AppRate: 2, AppBurst: 2})
	_, plain := f.newApp(t, "default limit")
	own, ownSecret := f.newApp(t, "own limit")
	if _, err := f.svc.Update(context.Background(), own.ID, apps.AppInput{RateLimit: 0.5}, []string{apps.PathRateLimit}); err != nil {
		t.Fatal(err)
	}
	count := func(secret string, n int) (ok int, last *httptest.ResponseRecorder) {
		for i := 0; i < n; i++ {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/x", nil)
			r.Header.Set(middleware.HeaderAPIKey, secret)
			f.eng.ServeHTTP(w, r)
			if w.Code == http.StatusOK {
				ok++
			}
			last = w
		}
		return ok, last
	}
	if ok, last := count(plain, 10); ok != 2 || last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") != "1" {
		t.Fatalf("broker-wide limit: %d passed, last %d Retry-After %q", ok, last.Code, last.Header().Get("Retry-After"))
	}
	// Burst follows the broker-wide setting (2); the app's own rate is 0.5/s.
	if ok, _ := count(ownSecret, 10); ok != 2 {
		t.Fatalf("own limit: %d passed at once, want the burst of 2", ok)
	}
	f.now.Add(1) // one second: 2 tokens at the broker-wide rate, half a token at the app's own
	if ok, _ := count(ownSecret, 10); ok != 0 {
		t.Fatalf("own limit after 1s: %d passed, want 0 at 0.5/s", ok)
	}
	if ok, _ := count(plain, 10); ok != 2 {
		t.Fatalf("broker-wide limit after 1s: %d passed", ok)
	}
}

func TestNoAppRateLimitByDefault(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{})
	_, secret := f.newApp(t, "unlimited")
	for i := 0; i < 200; i++ {
		if code := f.call(secret); code != http.StatusOK {
			t.Fatalf("call %d: %d with no rate limit configured", i, code)
		}
	}
}
