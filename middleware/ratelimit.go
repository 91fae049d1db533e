package middleware

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/oauthbroker/broker/broker/model"
)

// RateLimitKeys is how many keys (client addresses, apps) a rate limiter
// tracks. The least recently seen key is forgotten first, so memory stays
// bounded whatever an attacker sends; a forgotten key starts again with a
// full bucket, which costs an attacker more addresses than it saves.
const RateLimitKeys = 65536

// RateLimitByKey limits requests per key to rps per second with bursts of
// burst (token bucket, golang.org/x/time/rate). Over the limit it answers
// 429 rate_limited with Retry-After in whole seconds. rps <= 0 turns it off
// (config: 0 = none). A request whose key is "" is not limited here (for
// KeyByAppID: no app authenticated; authentication answers that).
func RateLimitByKey(rps float64, burst int, key func(*gin.Context) string) gin.HandlerFunc {
	return rateLimitByKey(rps, burst, RateLimitKeys, key, time.Now, nil)
}

// RateLimitByKeyWith is RateLimitByKey answering a refused request with
// refuse (Retry-After is already set; refuse must abort), for routes whose
// callers are browsers and should get a page, not JSON.
func RateLimitByKeyWith(rps float64, burst int, key func(*gin.Context) string, refuse func(*gin.Context)) gin.HandlerFunc {
	return rateLimitByKey(rps, burst, RateLimitKeys, key, time.Now, refuse)
}

func rateLimitByKey(rps float64, burst, size int, key func(*gin.Context) string, now func() time.Time, refuse func(*gin.Context)) gin.HandlerFunc {
	if refuse == nil {
		refuse = func(c *gin.Context) { Fail(c, model.ErrRateLimited) }
	}
	if rps <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(rps)))
	}
	cache, err := lru.New[string, *rate.Limiter](size)
	if err != nil {
		panic("middleware: rate limiter cache: " + err.Error())
	}
	var mu sync.Mutex // makes get-or-create atomic; the cache itself is safe
	limiter := func(k string) *rate.Limiter {
		mu.Lock()
		defer mu.Unlock()
		l, ok := cache.Get(k)
		if !ok {
			l = rate.NewLimiter(rate.Limit(rps), burst)
			cache.Add(k, l)
		}
		return l
	}
	return func(c *gin.Context) {
		k := key(c)
		if k == "" {
			c.Next()
			return
		}
		t := now()
		r := limiter(k).ReserveN(t, 1)
		if delay := r.DelayFrom(t); delay > 0 {
			r.CancelAt(t) // a refused request does not use up a token
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
			refuse(c)
			return
		}
		c.Next()
	}
}

// KeyByClientIP keys a rate limit by client address. c.ClientIP honours
// X-Forwarded-For only from the engine's trusted proxies; configuring those
// is the engine's business.
func KeyByClientIP(c *gin.Context) string { return c.ClientIP() }

// KeyByAppID keys a rate limit by the authenticated app; put the limiter
// after authentication.
func KeyByAppID(c *gin.Context) string { return AppIDFrom(c) }
