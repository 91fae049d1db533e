package middleware

import (
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/oauthbroker/broker/broker/model"
)

// appLimiter holds one token bucket per app: the app's own RateLimit when
// set, else the broker-wide security.rateLimits.app. It sits inside app
// authentication so every /v1 and /proxy call of an app counts, and it reads
// the rate from the authenticated app, so a changed limit applies as soon as
// the app cache sees the change.
type appLimiter struct {
	def   float64
	burst int
	mu    sync.Mutex
	cache *lru.Cache[string, *rate.Limiter]
}

func newAppLimiter(def float64, burst int) *appLimiter {
	cache, _ := lru.New[string, *rate.Limiter](RateLimitKeys) // only fails on size <= 0
	return &appLimiter{def: def, burst: burst, cache: cache}
}

// reserve takes one token for app at t; a positive delay means refused (and
// nothing is taken).
func (l *appLimiter) reserve(app *model.App, t time.Time) time.Duration {
	rps := l.def
	if app.RateLimit > 0 {
		rps = app.RateLimit
	}
	if rps <= 0 {
		return 0
	}
	burst := l.burst
	if burst < 1 {
		burst = max(1, int(math.Ceil(rps)))
	}
	l.mu.Lock()
	lim, ok := l.cache.Get(app.ID)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(rps), burst)
		l.cache.Add(app.ID, lim)
	} else if lim.Limit() != rate.Limit(rps) || lim.Burst() != burst {
		lim.SetLimitAt(t, rate.Limit(rps))
		lim.SetBurstAt(t, burst)
	}
	l.mu.Unlock()
	r := lim.ReserveN(t, 1)
	if d := r.DelayFrom(t); d > 0 {
		r.CancelAt(t)
		return d
	}
	return 0
}
