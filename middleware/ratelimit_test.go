package middleware

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/model"
)

// fakeClock is advanced by hand, so refill is tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func fromIP(ip string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.RemoteAddr = ip + ":5555"
	return r
}

func okEngine(mw ...gin.HandlerFunc) *gin.Engine {
	e := engineWith(mw...)
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return e
}

func TestRateLimitByClientIP(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	e := okEngine(rateLimitByKey(0.5, 2, 100, KeyByClientIP, clock.now, nil)) // one token per 2s
	for i := range 2 {
		if w := perform(e, fromIP("192.0.2.1")); w.Code != http.StatusNoContent {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
	}
	w := perform(e, fromIP("192.0.2.1"))
	if w.Code != http.StatusTooManyRequests || w.Header().Get(HeaderBrokerError) != "rate_limited" {
		t.Fatalf("over the burst: %d", w.Code)
	}
	var env model.ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code != model.CodeRateLimited {
		t.Fatalf("envelope %s", w.Body)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra != 2 {
		t.Fatalf("Retry-After = %q, want 2", w.Header().Get("Retry-After"))
	}
	if w := perform(e, fromIP("192.0.2.2")); w.Code != http.StatusNoContent {
		t.Fatalf("another address is limited too: %d", w.Code)
	}
	// A refused request does not spend a token: after one interval exactly
	// one more request passes.
	clock.add(2 * time.Second)
	if w := perform(e, fromIP("192.0.2.1")); w.Code != http.StatusNoContent {
		t.Fatalf("after refill: %d", w.Code)
	}
	if w := perform(e, fromIP("192.0.2.1")); w.Code != http.StatusTooManyRequests {
		t.Fatalf("second after refill: %d", w.Code)
	}
}

func TestRateLimitByAppID(t *testing.T) {
	setApp := func(c *gin.Context) {
		if id := c.Query("app"); id != "" {
			setApp(c, &model.App{ID: id})
		}
	}
	e := engineWith(setApp, RateLimitByKey(0.001, 1, KeyByAppID))
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	get := func(q string) int { return perform(e, httptest.NewRequest(http.MethodGet, "/x"+q, nil)).Code }
	if get("?app=app_a") != 204 || get("?app=app_a") != 429 {
		t.Fatal("app_a not limited after its burst")
	}
	if get("?app=app_b") != 204 {
		t.Fatal("app_b limited by app_a's use")
	}
	for range 5 {
		if get("") != 204 {
			t.Fatal("a request without an app key was limited")
		}
	}
}

func TestRateLimitOff(t *testing.T) {
	e := okEngine(RateLimitByKey(0, 0, KeyByClientIP))
	for range 100 {
		if w := perform(e, fromIP("192.0.2.1")); w.Code != http.StatusNoContent {
			t.Fatal("rps 0 should not limit")
		}
	}
}

func TestRateLimitMemoryIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	e := okEngine(rateLimitByKey(0.001, 1, 2, KeyByClientIP, clock.now, nil))
	perform(e, fromIP("192.0.2.1"))
	if perform(e, fromIP("192.0.2.1")).Code != http.StatusTooManyRequests {
		t.Fatal("not limited")
	}
	// Two other addresses push the first out of a two-entry cache.
	perform(e, fromIP("192.0.2.2"))
	perform(e, fromIP("192.0.2.3"))
	if perform(e, fromIP("192.0.2.1")).Code != http.StatusNoContent {
		t.Fatal("the least recent key was not forgotten: the cache is not bounded")
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	e := okEngine(RateLimitByKey(0.001, 10, KeyByClientIP))
	srv := httptest.NewServer(e)
	defer srv.Close()
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			res, err := srv.Client().Get(srv.URL + "/x")
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			switch res.StatusCode {
			case http.StatusNoContent:
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || limited.Load() != 40 {
		t.Fatalf("%d passed and %d limited, want 10 and 40", ok.Load(), limited.Load())
	}
}
