package cache

import (
	"fmt"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Epoch is a ticket from Cache.Epoch: it names the invalidations that had
// run when a value was read.
type Epoch uint64

// Cache is a bounded, concurrency-safe LRU whose inserts lose to
// invalidations (see the package doc).
type Cache[K comparable, V any] struct {
	lru *lru.Cache[K, V]
	// mu orders inserts against invalidations; epoch counts invalidations.
	mu    sync.Mutex
	epoch atomic.Uint64
}

// New returns a cache of at most size entries; size must be at least 1.
func New[K comparable, V any](size int) (*Cache[K, V], error) {
	l, err := lru.New[K, V](size)
	if err != nil {
		return nil, fmt.Errorf("cache: size %d: %w", size, err)
	}
	return &Cache[K, V]{lru: l}, nil
}

// Epoch is the ticket to take before reading a value that will be cached.
func (c *Cache[K, V]) Epoch() Epoch { return Epoch(c.epoch.Load()) }

// Get returns the cached value and marks it recently used.
func (c *Cache[K, V]) Get(k K) (V, bool) { return c.lru.Get(k) }

// Add caches v under k unless an invalidation ran since e was taken. When
// keep is not nil and k is cached already, v replaces the cached value only
// if keep(cached) is false (e.g. the cached one is newer). It reports
// whether v was cached.
func (c *Cache[K, V]) Add(e Epoch, k K, v V, keep func(cached V) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if Epoch(c.epoch.Load()) != e {
		return false
	}
	if keep != nil {
		if old, ok := c.lru.Peek(k); ok && keep(old) {
			return false
		}
	}
	c.lru.Add(k, v)
	return true
}

// Remove invalidates one key.
func (c *Cache[K, V]) Remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.lru.Remove(k)
}

// RemoveFunc invalidates every entry for which match is true (all of one
// app's entries, say). It walks the whole cache, so it is for rare events.
func (c *Cache[K, V]) RemoveFunc(match func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	for _, k := range c.lru.Keys() {
		if v, ok := c.lru.Peek(k); ok && match(k, v) {
			c.lru.Remove(k)
		}
	}
}

// Purge invalidates everything.
func (c *Cache[K, V]) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.lru.Purge()
}

// Len is the number of cached entries.
func (c *Cache[K, V]) Len() int { return c.lru.Len() }
