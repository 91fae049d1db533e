package middleware_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/middleware"
)

// countingStore is the real SQLite store that counts app reads and can run
// a hook in the middle of one (to interleave a purge).
type countingStore struct {
	store.Store
	reads  atomic.Int64
	during func()
}

func (s *countingStore) GetApp(ctx context.Context, id string) (model.App, error) {
	s.reads.Add(1)
	a, err := s.Store.GetApp(ctx, id)
	if s.during != nil {
		s.during()
	}
	return a, err
}

type fixture struct {
	store *countingStore
	svc   *apps.Service
	auth  *middleware.Authenticator
	eng   *gin.Engine
	now   atomic.Int64 // seconds added to a fixed start
}

func newFixture(tb testing.TB, o middleware.AuthOptions) *fixture {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	keys, err := secrets.NewKeyRing(secrets.Key{ID: "k", Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{store: &countingStore{Store: st}}
	o.Store = f.store
	o.Now = func() time.Time { return time.Unix(1_800_000_000+f.now.Load(), 0) }
	if o.CacheSize == 0 {
		o.CacheSize = config.Default().Cache.Apps
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = middleware.AppCacheTTL
	}
	if f.auth, err = middleware.NewAuthenticator(o); err != nil {
		tb.Fatal(err)
	}
	if f.svc, err = apps.New(apps.Options{Store: st, Keys: keys, OnChange: f.auth.Purge}); err != nil {
		tb.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	f.eng = gin.New()
	f.eng.GET("/x", f.auth.App(), func(c *gin.Context) { c.String(http.StatusOK, middleware.AppFrom(c).ID) })
	return f
}

func (f *fixture) newApp(tb testing.TB, name string) (model.App, string) {
	tb.Helper()
	a, secret, _, err := f.svc.Create(context.Background(), apps.AppInput{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	return a, secret
}

func (f *fixture) call(secret string) int {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set(middleware.HeaderAPIKey, secret)
	f.eng.ServeHTTP(w, r)
	return w.Code
}

func TestCachedAppCostsNoStoreRead(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{})
	_, secret := f.newApp(t, "cached")
	for i := 0; i < 5; i++ {
		if code := f.call(secret); code != 200 {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	if n := f.store.reads.Load(); n != 1 {
		t.Fatalf("%d store reads for 5 calls, want 1", n)
	}
	// A wrong secret for the same app is never served from the cache.
	wrong := secret[:len(secret)-1] + "a"
	if wrong == secret {
		wrong = secret[:len(secret)-1] + "b"
	}
	if code := f.call(wrong); code != http.StatusUnauthorized {
		t.Fatalf("a wrong secret for a cached app: %d, want 401", code)
	}
}

func TestCacheEntriesExpire(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{CacheTTL: 10 * time.Second})
	_, secret := f.newApp(t, "aging")
	f.call(secret)
	f.now.Add(9)
	f.call(secret)
	if n := f.store.reads.Load(); n != 1 {
		t.Fatalf("within the TTL: %d reads, want 1", n)
	}
	f.now.Add(2)
	f.call(secret)
	if n := f.store.reads.Load(); n != 2 {
		t.Fatalf("after the TTL: %d reads, want 2", n)
	}
}

func TestPurge(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{})
	a, sa := f.newApp(t, "first")
	_, sb := f.newApp(t, "second")
	f.call(sa)
	f.call(sb)
	f.auth.Purge(a.ID)
	f.call(sa)
	f.call(sb)
	if n := f.store.reads.Load(); n != 3 {
		t.Fatalf("%d reads, want 3: only the purged app is read again", n)
	}
	f.auth.PurgeAll()
	f.call(sa)
	f.call(sb)
	if n := f.store.reads.Load(); n != 5 {
		t.Fatalf("%d reads after PurgeAll, want 5", n)
	}
}

// A rotation that lands while a request is reading the app must not leave
// the old secret cached.
func TestPurgeDuringReadIsNotUndone(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{})
	a, secret := f.newApp(t, "racy")
	f.store.during = func() {
		f.store.during = nil
		if _, err := f.svc.RotateSecret(context.Background(), a.ID); err != nil {
			t.Error(err)
		}
	}
	// The read saw the old hash, so this one call passes...
	if code := f.call(secret); code != 200 {
		t.Fatalf("racing call: %d", code)
	}
	// ...but the old secret was not cached behind the rotation's back.
	if code := f.call(secret); code != http.StatusUnauthorized {
		t.Fatalf("old secret after rotation: %d, want 401", code)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFixture(t, middleware.AuthOptions{CacheSize: 2})
	var ss []string
	for _, n := range []string{"one", "two", "three"} {
		_, s := f.newApp(t, n)
		ss = append(ss, s)
	}
	for _, s := range ss {
		f.call(s)
	}
	f.call(ss[0]) // evicted by the third
	if n := f.store.reads.Load(); n != 4 {
		t.Fatalf("%d reads, want 4", n)
	}
	for _, s := range ss {
		if code := f.call(s); code != 200 {
			t.Fatalf("evicted app must still authenticate: %d", code)
		}
	}
}

func TestRequirePermissionWithoutApp(t *testing.T) {
	e := gin.New()
	e.GET("/p", middleware.RequirePermission(model.PermProxy), func(c *gin.Context) { c.Status(204) })
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/p", nil))
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("%d", w.Code)
	}
}

// BenchmarkCachedAppAuth measures the hot path every proxied request takes:
// an app already in the cache, through gin.
func BenchmarkCachedAppAuth(b *testing.B) {
	f := newFixture(b, middleware.AuthOptions{})
	_, secret := f.newApp(b, "bench")
	eng := gin.New()
	eng.GET("/x", f.auth.App(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set(middleware.HeaderAPIKey, secret)
	w := httptest.NewRecorder()
	eng.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent {
		b.Fatal(w.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		eng.ServeHTTP(w, req)
	}
	b.StopTimer()
	if n := f.store.reads.Load(); n != 1 {
		b.Fatalf("%d store reads, want 1", n)
	}
}

// BenchmarkNoAuthBaseline is the same request without authentication, so the
// difference to BenchmarkCachedAppAuth is what authentication costs.
func BenchmarkNoAuthBaseline(b *testing.B) {
	gin.SetMode(gin.TestMode)
	eng := gin.New()
	eng.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "/x", nil)
	b.ReportAllocs()
	for b.Loop() {
		eng.ServeHTTP(httptest.NewRecorder(), req)
	}
}
