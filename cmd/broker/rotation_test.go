package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oauthbroker/broker/broker/store/pgtest"
	"github.com/oauthbroker/broker/providers/providertest"
)

// TestKeyRotationWithoutDowntime follows the operator's procedure: generate
// a key, put it first, roll the replicas, run `broker keys rotate`, and
// finally serve with only the new key, while requests never stop.
func TestKeyRotationWithoutDowntime(t *testing.T) {
	dsn := pgtest.DSN(t)
	fake := providertest.New(t, providertest.Options{TokenLifetime: time.Hour})
	oldKey := map[string]string{"id": "e1", "key": randomKey()}
	c := newCluster(t, 2, dsn, map[string]any{"fake": fakeSpec(t, fake, "")}, []map[string]string{oldKey})
	_, secret := createApp(t, c.replicas[0].URL, c.admin())
	var conns []string
	for i := 0; i < 3; i++ {
		conns = append(conns, c.connectVia(secret, "fake", fmt.Sprintf("sched-%d", i), 0, 0))
	}

	// Continuous traffic, spread over the replicas that are up (a load
	// balancer takes a replica out before it is restarted).
	var live [2]atomic.Bool
	live[0].Store(true)
	live[1].Store(true)
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := w; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r := n % 2
				if !live[r].Load() {
					r = 1 - r
				}
				code, body := proxyGet(c.get(r), secret, conns[n%len(conns)])
				sent.Add(1)
				if code != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("replica %d: %d %s", r+1, code, body))
				}
			}
		}(w)
	}

	out, stderr, err := runBroker(t, c.dir, nil, "keys", "generate")
	if err != nil {
		t.Fatalf("keys generate: %v %s", err, stderr)
	}
	newKey := map[string]string{"id": "e2", "key": strings.TrimSpace(out)}
	c.settings["security"].(map[string]any)["encryptionKeys"] = []map[string]string{newKey, oldKey}
	for i := range c.replicas {
		live[i].Store(false)
		time.Sleep(50 * time.Millisecond) // let the balancer's in-flight requests land elsewhere
		old := c.get(i)
		if err := <-old.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("replica %d exit: %v\n%s", i+1, err, tail(old.Stderr.String(), 2000))
		}
		c.start(i)
		live[i].Store(true)
	}
	out, stderr, err = runBroker(t, c.dir+"/r0", nil, "keys", "rotate", "-c", c.dir+"/r0/broker.yaml", "--batch", "2")
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, stderr)
	}
	m := regexp.MustCompile(`re-encrypted (\d+) record`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate said: %q", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < len(conns) {
		t.Fatalf("rotated %d records, want at least the %d connections", n, len(conns))
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() < 50 {
		t.Fatalf("%d of %d requests failed during the rotation; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}

	// A replica that holds only the new key serves every connection: the
	// old key can go.
	c.settings["security"].(map[string]any)["encryptionKeys"] = []map[string]string{newKey}
	c.ports = append(c.ports, freePort(t))
	only := c.start(len(c.ports) - 1)
	for _, id := range conns {
		if code, body := proxyGet(only, secret, id); code != 200 {
			t.Fatalf("new-key-only replica cannot serve %s: %d %s", id, code, body)
		}
	}
}

// cuttable forwards TCP to PostgreSQL until cut: then it drops every
// connection and refuses new ones, as a database outage would.
type cuttable struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newCuttable(t *testing.T, target string) *cuttable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cuttable{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); c.Cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			if c.cut.Load() {
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.track(in, out)
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cuttable) track(cs ...net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range cs {
		c.conns[x] = struct{}{}
	}
}

// Cut drops every open connection and refuses new ones.
func (c *cuttable) Cut() {
	c.cut.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	for x := range c.conns {
		x.Close()
	}
	c.conns = map[net.Conn]struct{}{}
}

// Restore lets connections through again.
func (c *cuttable) Restore() { c.cut.Store(false) }

// waitListening waits until a broker's change listener has run its LISTEN
// on the database of dsn.
func waitListening(t *testing.T, dsn string) {
	t.Helper()
	waitPG(t, dsn, 15*time.Second, `SELECT COUNT(*) > 0 FROM pg_stat_activity
		WHERE application_name = 'broker-watch' AND datname = current_database() AND query LIKE 'LISTEN%'`,
		"the broker's change listener never ran LISTEN")
}

// waitNotificationsRead waits until every listener has read every queued
// NOTIFY (the server's queue is empty).
func waitNotificationsRead(t *testing.T, dsn string) {
	t.Helper()
	waitPG(t, dsn, 10*time.Second, `SELECT pg_notification_queue_usage() = 0`, "notifications stayed queued")
}

// waitPG polls a yes-or-no query on a connection of its own until it says
// yes, or fails with msg.
func waitPG(t *testing.T, dsn string, within time.Duration, query, msg string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if !eventually(within, func() bool {
		var yes bool
		return conn.QueryRow(t.Context(), query).Scan(&yes) == nil && yes
	}) {
		t.Fatal(msg)
	}
}

func TestReadinessFollowsTheDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	link := newCuttable(t, u.Host)
	u.Host = link.ln.Addr().String()
	fake := providertest.New(t, providertest.Options{TokenLifetime: time.Hour})
	c := newCluster(t, 1, u.String(), map[string]any{"fake": fakeSpec(t, fake, "")},
		[]map[string]string{{"id": "e1", "key": randomKey()}})
	// The change listener purges every cache when it (re)connects; wait for
	// its first LISTEN, so that purge cannot land after the warm-up below
	// and leave nothing cached for the outage.
	waitListening(t, dsn)
	r := c.replicas[0]
	_, secret := createApp(t, r.URL, c.admin())
	id := c.connectVia(secret, "fake", "sched-r", 0, 0)
	if code, _ := proxyGet(r, secret, id); code != 200 {
		t.Fatalf("warm-up: %d", code)
	}
	// The set-up's own writes (the app, the connection) are announced to
	// the listener asynchronously, and each purges its entry from the
	// caches: once no notification is queued and the listener had a moment
	// to act on the last one, warm the caches again (a cache hit writes
	// nothing, so this announces nothing new).
	waitNotificationsRead(t, dsn)
	time.Sleep(200 * time.Millisecond)
	if code, _ := proxyGet(r, secret, id); code != 200 {
		t.Fatalf("second warm-up: %d", code)
	}

	link.Cut()
	if !eventually(10*time.Second, func() bool { return status(r.URL+"/readyz") == http.StatusServiceUnavailable }) {
		t.Fatal("/readyz stayed ready with the database unreachable")
	}
	var env struct{ Error struct{ Code string } }
	if resp := callKey(t, "GET", r.URL+"/v1/connections/"+id, secret, nil, &env); resp.StatusCode != http.StatusServiceUnavailable || env.Error.Code != "unavailable" {
		t.Fatalf("store-bound request during the outage: %d %q", resp.StatusCode, env.Error.Code)
	}
	if code, body := proxyGet(r, secret, id); code != 200 {
		t.Fatalf("cached hot-path proxying stopped during the outage: %d %s", code, body)
	}
	if status(r.URL+"/healthz") != http.StatusOK {
		t.Fatal("liveness failed because of the database")
	}

	link.Restore()
	if !eventually(15*time.Second, func() bool { return status(r.URL+"/readyz") == http.StatusOK }) {
		t.Fatal("/readyz did not recover with the database")
	}
	if resp := callKey(t, "GET", r.URL+"/v1/connections/"+id, secret, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after recovery: %d", resp.StatusCode)
	}
}

func status(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func eventually(within time.Duration, f func() bool) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// tail returns the last n bytes of s, for failure messages.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
