package providertest

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// Recorder is the bookkeeping the calendar fakes share: the requests a fake
// answered, the failures injected for its next ones, a latency and a hook.
// Embedded in a fake, it gives it FailNext, Requests and Calls. It is safe
// for concurrent use and ready as its zero value.
type Recorder[R any] struct {
	// Delay is waited before each answer (latency benchmarks).
	Delay time.Duration
	// Hook runs before each answer (outside the fake's lock), e.g. to
	// expire a token in the middle of a listing.
	Hook func(r *http.Request)

	mu       sync.Mutex
	fail     []int
	requests []R
}

// FailNext makes the next n API calls answer status (401, 403, 429, 5xx)
// with the provider's own error body.
func (c *Recorder[R]) FailNext(status, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		c.fail = append(c.fail, status)
	}
}

// Requests returns the API calls answered so far.
func (c *Recorder[R]) Requests() []R {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// Calls counts the API calls answered.
func (c *Recorder[R]) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// Begin starts one answer: it waits Delay, runs Hook, records req and
// returns the status injected for this call (0 when none).
func (c *Recorder[R]) Begin(r *http.Request, req R) int {
	if c.Delay > 0 {
		time.Sleep(c.Delay)
	}
	if c.Hook != nil {
		c.Hook(r)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	if len(c.fail) == 0 {
		return 0
	}
	status := c.fail[0]
	c.fail = c.fail[1:]
	return status
}
