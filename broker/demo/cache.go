package demo

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ttlCache is a bounded map whose entries expire: the oldest entry makes
// room when it is full, so a flood of authorize requests or tokens costs at
// most size entries. (expirable.LRU would start a goroutine that never ends.)
type ttlCache[V any] struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, ttlEntry[V]]
	ttl time.Duration
	now func() time.Time
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](size int, ttl time.Duration, now func() time.Time) *ttlCache[V] {
	l, err := simplelru.NewLRU[string, ttlEntry[V]](size, nil)
	if err != nil {
		panic("demo: " + err.Error()) // size is a constant > 0
	}
	return &ttlCache[V]{lru: l, ttl: ttl, now: now}
}

func (c *ttlCache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(k, ttlEntry[V]{v: v, expires: c.now().Add(c.ttl)})
}

// get returns a live entry and leaves it in place.
func (c *ttlCache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live(k, false)
}

// take returns a live entry and removes it in the same step, so a code or a
// refresh token is used at most once even by concurrent callers.
func (c *ttlCache[V]) take(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live(k, true)
}

func (c *ttlCache[V]) live(k string, remove bool) (V, bool) {
	var zero V
	e, ok := c.lru.Peek(k)
	if !ok {
		return zero, false
	}
	if !c.now().Before(e.expires) {
		c.lru.Remove(k)
		return zero, false
	}
	if remove {
		c.lru.Remove(k)
	} else {
		c.lru.Get(k) // mark as recently used
	}
	return e.v, true
}
