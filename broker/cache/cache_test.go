package cache_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oauthbroker/broker/broker/cache"
)

func newCache(t *testing.T, size int) *cache.Cache[string, int] {
	t.Helper()
	c, err := cache.New[string, int](size)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSizeMustBePositive(t *testing.T) {
	if _, err := cache.New[string, int](0); err == nil {
		t.Fatal("New(0) succeeded")
	}
}

func TestBoundedLeastRecentlyUsedGoesFirst(t *testing.T) {
	c := newCache(t, 2)
	c.Add(c.Epoch(), "a", 1, nil)
	c.Add(c.Epoch(), "b", 2, nil)
	c.Get("a") // b is now the least recently used
	c.Add(c.Epoch(), "c", 3, nil)
	if _, ok := c.Get("b"); ok || c.Len() != 2 {
		t.Fatalf("b still cached (len %d)", c.Len())
	}
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("a = %d, %v", v, ok)
	}
}

// A value read before an invalidation is not cached after it, whichever
// invalidation it was; one read after it is.
func TestAddAfterAnInvalidationIsRefused(t *testing.T) {
	for name, invalidate := range map[string]func(c *cache.Cache[string, int]){
		"Remove of the key":     func(c *cache.Cache[string, int]) { c.Remove("k") },
		"Remove of another key": func(c *cache.Cache[string, int]) { c.Remove("other") },
		"RemoveFunc":            func(c *cache.Cache[string, int]) { c.RemoveFunc(func(string, int) bool { return false }) },
		"Purge":                 func(c *cache.Cache[string, int]) { c.Purge() },
	} {
		t.Run(name, func(t *testing.T) {
			c := newCache(t, 10)
			before := c.Epoch()
			invalidate(c)
			if c.Add(before, "k", 1, nil) {
				t.Fatal("a value read before the invalidation was cached")
			}
			if _, ok := c.Get("k"); ok {
				t.Fatal("k is cached")
			}
			if !c.Add(c.Epoch(), "k", 2, nil) {
				t.Fatal("a value read after the invalidation was refused")
			}
			if v, _ := c.Get("k"); v != 2 {
				t.Fatalf("k = %d, want 2", v)
			}
		})
	}
}

func TestKeepHoldsTheCachedValue(t *testing.T) {
	c := newCache(t, 10)
	newer := func(cached int) bool { return cached > 5 }
	c.Add(c.Epoch(), "k", 7, nil)
	if c.Add(c.Epoch(), "k", 3, newer) {
		t.Fatal("an older value replaced a newer one")
	}
	if !c.Add(c.Epoch(), "j", 3, newer) {
		t.Fatal("keep refused a key that was not cached")
	}
	if v, _ := c.Get("k"); v != 7 {
		t.Fatalf("k = %d, want 7", v)
	}
}

func TestRemoveFuncRemovesOnlyMatches(t *testing.T) {
	c := newCache(t, 10)
	for i, k := range []string{"a1", "a2", "b1"} {
		c.Add(c.Epoch(), k, i, nil)
	}
	c.RemoveFunc(func(k string, _ int) bool { return k[0] == 'a' })
	if _, ok := c.Get("a1"); ok {
		t.Error("a1 kept")
	}
	if _, ok := c.Get("a2"); ok {
		t.Error("a2 kept")
	}
	if _, ok := c.Get("b1"); !ok || c.Len() != 1 {
		t.Errorf("b1 gone or len %d", c.Len())
	}
}

// Readers copy a "stored" version into the cache while a writer changes it
// and invalidates, as a store read races a disconnect. Once the writer is
// done and the readers have finished, the cache holds the last version or
// nothing: never one an invalidation already replaced.
func TestNoStaleValueSurvivesRacingInvalidations(t *testing.T) {
	for round := range 50 {
		c := newCache(t, 10)
		var stored atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 200 {
					e := c.Epoch()
					v := stored.Load()
					c.Add(e, "k", int(v), func(cached int) bool { return cached > int(v) })
				}
			})
		}
		wg.Go(func() {
			for range 100 {
				stored.Add(1)
				c.Remove("k")
			}
		})
		wg.Wait()
		if v, ok := c.Get("k"); ok && int64(v) != stored.Load() {
			t.Fatalf("round %d: cached %d after the store moved to %d", round, v, stored.Load())
		}
	}
}

func TestHitAllocatesNothing(t *testing.T) {
	c, err := cache.New[string, *int](10)
	if err != nil {
		t.Fatal(err)
	}
	v := 1
	c.Add(c.Epoch(), "k", &v, nil)
	if n := testing.AllocsPerRun(1000, func() { c.Get("k") }); n != 0 {
		t.Fatalf("Get allocates %v times per hit", n)
	}
}

func BenchmarkGetHit(b *testing.B) {
	c, _ := cache.New[string, *int](10000)
	v := 1
	c.Add(c.Epoch(), "k", &v, nil)
	b.ReportAllocs()
	for b.Loop() {
		c.Get("k")
	}
}
