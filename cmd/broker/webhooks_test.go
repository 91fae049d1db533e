package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/oauthbroker/broker/broker/store/pgtest"
)

// hookSink is an app's webhook endpoint: it verifies every delivery with the
// Standard Webhooks reference library and keeps, per connection, the ids it
// accepted in arrival order.
type hookSink struct {
	*httptest.Server
	t        *testing.T
	mu       sync.Mutex
	wh       *standardwebhooks.Webhook
	hold     chan struct{} // non-nil: requests wait for it (or for the caller to go)
	inFlight int
	accepted map[string]int      // webhook-id → 2xx answers given
	order    map[string][]string // connection id → webhook-ids accepted, in order
	types    map[string]string   // webhook-id → event type
	bad      []string
}

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{t: t, accepted: map[string]int{}, order: map[string][]string{}, types: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *hookSink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	hold, wh := s.hold, s.wh
	s.inFlight++
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done(): // the broker died mid-delivery
			return
		}
	}
	id := r.Header.Get("webhook-id")
	var ev struct {
		Type string
		Data struct{ Connection struct{ ID string } }
	}
	err := json.Unmarshal(body, &ev)
	if err == nil && wh != nil {
		err = wh.Verify(body, r.Header)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.bad = append(s.bad, fmt.Sprintf("%s: %v", id, err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.accepted[id]++
	if s.accepted[id] == 1 {
		s.order[ev.Data.Connection.ID] = append(s.order[ev.Data.Connection.ID], id)
		s.types[id] = ev.Type
	}
}

func (s *hookSink) setSecret(secret string) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.wh = wh
	s.mu.Unlock()
}

// waitAccepted waits until n distinct deliveries were accepted.
func (s *hookSink) waitAccepted(n int, within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		got := len(s.accepted)
		s.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Fatalf("%d of %d deliveries accepted after %s; refused: %v", len(s.accepted), n, within, s.bad)
}

// checkOnceInOrder: every accepted delivery verified, none was accepted
// twice (when once is set), and each connection's events came created, then
// disconnected, then reconnected, as they happened.
func (s *hookSink) checkOnceInOrder(once bool) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		s.t.Errorf("deliveries that do not verify: %v", s.bad)
	}
	if once {
		for id, n := range s.accepted {
			if n != 1 {
				s.t.Errorf("%s delivered %d times", id, n)
			}
		}
	}
	// The tests drive each connection through these, in this order.
	steps := []string{"connection.created", "connection.disconnected", "connection.reconnected"}
	for conn, ids := range s.order {
		for i, id := range ids {
			if i >= len(steps) || s.types[id] != steps[i] {
				s.t.Errorf("%s: arrival %d is %s; the events happened as %v", conn, i, s.types[id], steps)
				break
			}
		}
	}
}

// createHookApp creates an app whose webhookUrl is url; it returns the app
// id, its client secret and its webhook signing secret.
func createHookApp(t *testing.T, base, admin, url string) (string, string, string) {
	t.Helper()
	var out struct {
		App                         struct{ ID string }
		ClientSecret, WebhookSecret string
	}
	r := call(t, "POST", base+"/v1/apps", admin, map[string]any{"app": map[string]any{"name": "Booking", "webhookUrl": url}}, &out)
	if r.StatusCode != http.StatusCreated || out.WebhookSecret == "" {
		t.Fatalf("create app: %d", r.StatusCode)
	}
	return out.App.ID, out.ClientSecret, out.WebhookSecret
}

func disconnect(t *testing.T, base, secret, id string) {
	t.Helper()
	if r := callKey(t, "POST", base+"/v1/connections/"+id+"/disconnect", secret, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("disconnect: %d", r.StatusCode)
	}
}

const hookProviders = `
providers:
  keyed:
    kind: apikey
    name: Keyed
    apiBaseUrl: https://api.keyed.example/v1
`

// SIGKILL with deliveries pending, some of them on the wire: after a
// restart every event arrives, each connection's in order.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	sink := newHookSink(t)
	hold := make(chan struct{})
	sink.hold = hold
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, `
server:
  listen: 127.0.0.1:{{PORT}}
  publicUrl: http://127.0.0.1:{{PORT}}
  allowInsecureLoopback: true
webhooks:
  timeout: 2s
  concurrency: 8 # one app may use a quarter of them: two deliveries on the wire
`+hookProviders, port)
	p := startBroker(t, dir, cfg, port)
	dev, _ := readDevSecrets(t, dir)
	admin := "Bearer " + dev["adminToken"]
	_, secret, whSecret := createHookApp(t, p.URL, admin, sink.URL+"/hooks")
	sink.setSecret(whSecret)
	const conns = 6
	for i := range conns {
		id := connectAPIKey(t, p.URL, secret, "keyed", "sched-1", fmt.Sprintf("key-%d", i))
		disconnect(t, p.URL, secret, id)
	}
	// Wait until a delivery is on the wire (held by the receiver), then
	// kill. One app has at most a quarter of the slots (at least one) in
	// flight: two of the 8 here.
	deadline := time.Now().Add(10 * time.Second)
	for {
		sink.mu.Lock()
		n := sink.inFlight
		sink.mu.Unlock()
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery reached the receiver")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil
	close(hold) // the receiver is fine now

	p = startBroker(t, dir, cfg, port)
	sink.waitAccepted(2*conns, 60*time.Second)
	sink.checkOnceInOrder(false) // at least once: the killed attempts may repeat
	var log struct{ Deliveries []struct{ ID, Status string } }
	callKey(t, "GET", p.URL+"/v1/webhooks/deliveries?limit=200", secret, nil, &log)
	if len(log.Deliveries) != 2*conns {
		t.Fatalf("delivery log has %d entries, want %d", len(log.Deliveries), 2*conns)
	}
	for _, d := range log.Deliveries {
		sink.mu.Lock()
		n := sink.accepted[d.ID]
		sink.mu.Unlock()
		if n == 0 {
			t.Errorf("%s never accepted (status %s)", d.ID, d.Status)
		}
	}
}

// Three replicas on one PostgreSQL deliver 300 events made through all of
// them: none lost, none delivered twice, each connection's in order.
func TestThreeReplicasDeliver300EventsOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	sink := newHookSink(t)
	c := newCluster(t, 3, dsn, map[string]any{"keyed": map[string]any{
		"kind": "apikey", "name": "Keyed", "apiBaseUrl": "https://api.keyed.example/v1"}},
		[]map[string]string{{"id": "e1", "key": randomKey()}})
	_, secret, whSecret := createHookApp(t, c.get(0).URL, c.admin(), sink.URL+"/hooks")
	sink.setSecret(whSecret)
	// 100 connections × created, disconnected, reconnected = 300 events,
	// each step of a connection through another replica.
	const conns = 100
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			key := fmt.Sprintf("key-%03d", i)
			id := connectAPIKey(t, c.get(i%3).URL, secret, "keyed", "sched-1", key)
			disconnect(t, c.get((i+1)%3).URL, secret, id)
			if again := connectAPIKey(t, c.get((i+2)%3).URL, secret, "keyed", "sched-1", key); again != id {
				t.Errorf("reconnect made a new connection %s, want %s", again, id)
			}
		})
	}
	wg.Wait()
	sink.waitAccepted(3*conns, 90*time.Second)
	time.Sleep(2 * time.Second) // a second copy, if one were coming, would show by now
	sink.checkOnceInOrder(true)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.accepted) != 3*conns || len(sink.order) != conns {
		t.Fatalf("%d deliveries over %d connections, want %d over %d", len(sink.accepted), len(sink.order), 3*conns, conns)
	}
}
