package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/oauthbroker/broker/broker/store/pgtest"
	"github.com/oauthbroker/broker/providers/providertest"
)

const testAdminToken = "admin-token-for-the-replica-tests-0123456789"

// cluster is several `broker serve` processes on one PostgreSQL database,
// all with the same public URL, as behind a load balancer.
type cluster struct {
	t         *testing.T
	dir       string
	ports     []int
	mu        sync.Mutex // guards replicas: a rolling restart swaps entries under traffic
	replicas  []*proc
	publicURL string
	settings  map[string]any
}

func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// newCluster writes one config per replica (same database, keys, provider)
// and starts n replicas.
func newCluster(t *testing.T, n int, dsn string, providers map[string]any, encKeys []map[string]string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	for i := 0; i < n; i++ {
		c.ports = append(c.ports, freePort(t))
	}
	c.publicURL = fmt.Sprintf("http://127.0.0.1:%d", c.ports[0])
	c.settings = map[string]any{
		"server": map[string]any{"listen": "127.0.0.1:{{PORT}}", "publicUrl": c.publicURL, "allowInsecureLoopback": true, "shutdownGrace": "10s"},
		"store":  map[string]any{"driver": "postgres", "dsn": dsn, "maxConns": 10},
		"security": map[string]any{
			"adminToken":     testAdminToken,
			"stateKeys":      []map[string]string{{"id": "s1", "secret": "state-key-shared-by-every-replica-0123456789"}},
			"encryptionKeys": encKeys,
		},
		"refresh":   map[string]any{"keepAlive": map[string]any{"enabled": false}, "leaseTtl": "3s"},
		"providers": providers,
	}
	for i := range c.ports {
		p := c.start(i)
		c.mu.Lock()
		c.replicas = append(c.replicas, p)
		c.mu.Unlock()
	}
	return c
}

// start (re)starts replica i with the current settings.
func (c *cluster) start(i int) *proc {
	c.t.Helper()
	b, err := yaml.Marshal(c.settings)
	if err != nil {
		c.t.Fatal(err)
	}
	dir := fmt.Sprintf("%s/r%d", c.dir, i)
	if err := mkdir(dir); err != nil {
		c.t.Fatal(err)
	}
	cfg := writeConfig(c.t, dir, string(b), c.ports[i])
	p := startBroker(c.t, dir, cfg, c.ports[i])
	c.mu.Lock()
	if i < len(c.replicas) {
		c.replicas[i] = p
	}
	c.mu.Unlock()
	return p
}

// get returns replica i as it is now.
func (c *cluster) get(i int) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replicas[i]
}

func (c *cluster) admin() string { return "Bearer " + testAdminToken }

// fakeSpec renders a fake provider's spec as broker.yaml providers entry.
func fakeSpec(t *testing.T, f *providertest.Server, tokenURL string) map[string]any {
	t.Helper()
	sp := f.Spec()
	if tokenURL != "" {
		sp.TokenURL = tokenURL
	}
	b, err := yaml.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// connectVia runs the browser side of an OAuth connect: the flow starts on
// replica `from` and its callback lands on replica `to`.
func (c *cluster) connectVia(secret, provider, schedule string, from, to int) string {
	t := c.t
	t.Helper()
	var start struct{ OAuthURL string }
	r := callKey(t, "POST", c.replicas[from].URL+"/v1/connect/oauth", secret, map[string]any{
		"providerId": provider, "scheduleId": schedule, "redirectUrl": "https://app.example.com/done",
	}, &start)
	if r.StatusCode != http.StatusOK || start.OAuthURL == "" {
		t.Fatalf("connect/oauth: %d", r.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hop := func(u string) *url.URL {
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: %d, no Location", redact(u), resp.StatusCode)
		}
		return loc
	}
	// oauthUrl points at the public URL (replica 0); the start hop goes to
	// `from`, the callback hop to `to`, as a load balancer would spread them.
	startURL, _ := url.Parse(start.OAuthURL)
	startURL.Host = strings.TrimPrefix(c.replicas[from].URL, "http://")
	authorize := hop(startURL.String())
	callback := hop(authorize.String())
	if !strings.HasSuffix(callback.Path, "/oauth/callback") {
		t.Fatalf("provider did not send the browser to the callback: %s", callback.Path)
	}
	callback.Host = strings.TrimPrefix(c.replicas[to].URL, "http://")
	done := hop(callback.String())
	id := done.Query().Get("connectionId")
	if id == "" {
		t.Fatalf("callback on replica %d ended in error=%q", to, done.Query().Get("error"))
	}
	return id
}

func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func proxyGet(replica *proc, secret, connID string) (int, string) {
	req, _ := http.NewRequest("GET", replica.URL+"/proxy/"+connID+"/calendars", nil)
	req.Header.Set("X-Api-Key", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus polls until replica answers want for connID, or the deadline.
func waitStatus(replica *proc, secret, connID string, want int, within time.Duration) (int, time.Duration) {
	start := time.Now()
	var got int
	for time.Since(start) < within {
		got, _ = proxyGet(replica, secret, connID)
		if got == want {
			return got, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return got, time.Since(start)
}

func TestReplicasShareFlowsRefreshesAndInvalidation(t *testing.T) {
	dsn := pgtest.DSN(t)
	fake := providertest.New(t, providertest.Options{TokenLifetime: 30 * time.Second})
	c := newCluster(t, 3, dsn, map[string]any{"fake": fakeSpec(t, fake, "")},
		[]map[string]string{{"id": "e1", "key": randomKey()}})
	_, secret := createApp(t, c.replicas[0].URL, c.admin())

	t.Run("connect started on replica 1 completes on replica 2", func(t *testing.T) {
		id := c.connectVia(secret, "fake", "sched-a", 0, 1)
		var got struct{ ID, Status string }
		if r := callKey(t, "GET", c.replicas[2].URL+"/v1/connections/"+id, secret, nil, &got); r.StatusCode != 200 || got.Status != "CONNECTED" {
			t.Fatalf("replica 3 sees connection: %d %+v", r.StatusCode, got)
		}
	})

	t.Run("300 requests on an expired token refresh once across replicas", func(t *testing.T) {
		id := c.connectVia(secret, "fake", "sched-b", 0, 0) // 30s token: inside the 60s expiry margin
		fake.SetTokenLifetime(time.Hour)
		before := fake.RefreshCalls()
		var wg sync.WaitGroup
		var ok, failed atomic.Int64
		for i := 0; i < 300; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if code, _ := proxyGet(c.replicas[i%3], secret, id); code == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}(i)
		}
		wg.Wait()
		if n := fake.RefreshCalls() - before; n != 1 || ok.Load() != 300 {
			t.Fatalf("refresh calls %d (want 1), successes %d, failures %d", n, ok.Load(), failed.Load())
		}
	})

	t.Run("a disconnect on replica 1 stops replicas 2 and 3 within a second", func(t *testing.T) {
		id := c.connectVia(secret, "fake", "sched-c", 0, 0)
		for _, r := range c.replicas {
			if code, body := proxyGet(r, secret, id); code != 200 {
				t.Fatalf("warm-up proxy: %d %s", code, body)
			}
		}
		if r := callKey(t, "POST", c.replicas[0].URL+"/v1/connections/"+id+"/disconnect", secret, nil, nil); r.StatusCode != 200 {
			t.Fatalf("disconnect: %d", r.StatusCode)
		}
		// A disconnected connection answers 409 conflict (it exists, its
		// credentials are gone): once every replica's cache hears of it.
		for i := 1; i < 3; i++ {
			if code, took := waitStatus(c.replicas[i], secret, id, http.StatusConflict, time.Second); code != http.StatusConflict {
				t.Fatalf("replica %d still serves the disconnected connection after %v (status %d)", i+1, took, code)
			}
		}
	})

	t.Run("a rotated secret and a deleted app stop every replica within a second", func(t *testing.T) {
		appID, sec := createApp(t, c.replicas[0].URL, c.admin())
		id := c.connectVia(sec, "fake", "sched-d", 0, 0)
		for _, r := range c.replicas {
			if code, _ := proxyGet(r, sec, id); code != 200 {
				t.Fatalf("warm-up: %d", code)
			}
		}
		var rot struct{ ClientSecret string }
		if r := call(t, "POST", c.replicas[0].URL+"/v1/apps/"+appID+"/secret", c.admin(), nil, &rot); r.StatusCode != 200 {
			t.Fatalf("rotate: %d", r.StatusCode)
		}
		for i := 1; i < 3; i++ {
			if code, took := waitStatus(c.replicas[i], sec, id, http.StatusUnauthorized, time.Second); code != http.StatusUnauthorized {
				t.Fatalf("replica %d accepts the old secret %v after rotation (status %d)", i+1, took, code)
			}
			if code, _ := proxyGet(c.replicas[i], rot.ClientSecret, id); code != 200 {
				t.Fatalf("replica %d refuses the new secret: %d", i+1, code)
			}
		}
		if r := call(t, "DELETE", c.replicas[0].URL+"/v1/apps/"+appID, c.admin(), nil, nil); r.StatusCode/100 != 2 {
			t.Fatalf("delete app: %d", r.StatusCode)
		}
		for i := 1; i < 3; i++ {
			if code, took := waitStatus(c.replicas[i], rot.ClientSecret, id, http.StatusUnauthorized, time.Second); code != http.StatusUnauthorized {
				t.Fatalf("replica %d still authenticates a deleted app after %v (status %d)", i+1, took, code)
			}
		}
	})
}

// holdingFront sits in front of a fake's token endpoint and, while held,
// keeps every token request waiting: a refresh that is "in flight".
type holdingFront struct {
	srv     *httptest.Server
	held    atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func newHoldingFront(t *testing.T, target string) *holdingFront {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	h := &holdingFront{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.held.Load() {
			h.arrived <- struct{}{}
			select {
			case <-h.release:
			case <-r.Context().Done():
				return // the replica died: the provider never answers it
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func TestReplicaKilledMidRefreshLosesNoToken(t *testing.T) {
	dsn := pgtest.DSN(t)
	fake := providertest.New(t, providertest.Options{TokenLifetime: 30 * time.Second})
	front := newHoldingFront(t, fake.URL)
	c := newCluster(t, 2, dsn, map[string]any{"fake": fakeSpec(t, fake, front.srv.URL+"/token")},
		[]map[string]string{{"id": "e1", "key": randomKey()}})
	_, secret := createApp(t, c.replicas[0].URL, c.admin())
	id := c.connectVia(secret, "fake", "sched-k", 0, 0)
	fake.SetTokenLifetime(time.Hour)

	front.held.Store(true)
	go proxyGet(c.replicas[0], secret, id) // starts the refresh on replica 1
	select {
	case <-front.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("replica 1 never started the refresh")
	}
	c.replicas[0].Kill() // SIGKILL while it holds the lease
	front.held.Store(false)
	close(front.release)

	// Replica 2 waits for the dead replica's lease to expire, then refreshes
	// with the stored refresh token, which nothing has lost.
	code, body := proxyGet(c.replicas[1], secret, id)
	if code != 200 {
		t.Fatalf("after the kill, replica 2 could not serve: %d %s", code, body)
	}
	var conn struct{ Status string }
	callKey(t, "GET", c.replicas[1].URL+"/v1/connections/"+id, secret, nil, &conn)
	if conn.Status != "CONNECTED" {
		t.Fatalf("status %q after the kill", conn.Status)
	}
}
