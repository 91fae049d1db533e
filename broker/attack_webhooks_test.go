package broker_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/webhooks"
	"github.com/oauthbroker/broker/config"
)

// An app cannot turn its own request rate into outbox rows and outbound
// calls: webhook.test and redeliver are limited per app (429 with
// Retry-After, nothing queued), and while the app has webhooks.MaxPending
// deliveries waiting, neither queues more, so one app cannot fill the
// queue every app's events go through. Another app is not held back.
func TestWebhookRequestsAreBounded(t *testing.T) {
	rc := newHookReceiver(t)
	d := newDemoBroker(t, func(c *config.Config) {
		c.Server.AllowInsecureLoopback = true
		// The backlog below is made by connecting, as fast as it goes.
		c.Security.RateLimits.Browser, c.Security.RateLimits.Sessions = config.Rate{}, config.Rate{}
	})
	_, key := d.newApp(t, map[string]any{"name": "Spammer", "webhookUrl": rc.URL + "/hooks"})
	_, otherKey := d.newApp(t, map[string]any{"name": "Neighbour", "webhookUrl": rc.URL + "/other"})

	// Test spam: the burst goes out, the rest is refused and not queued.
	accepted, first := 0, ""
	for i := 0; i < 3*webhooks.TestBurst; i++ {
		a := send(t, d.URL, "POST", "/v1/webhooks/test", key, "")
		switch a.code {
		case http.StatusAccepted:
			accepted++
			if first == "" {
				var out struct{ Delivery struct{ ID string } }
				_ = json.Unmarshal([]byte(a.body), &out)
				first = out.Delivery.ID
			}
		case http.StatusTooManyRequests:
			if code, _, ok := a.envelope(); !ok || code != "rate_limited" || a.h.Get("Retry-After") == "" {
				t.Fatalf("refused test: %d %v %s", a.code, a.h, a.body)
			}
		default:
			t.Fatalf("test %d: %d %s", i, a.code, a.body)
		}
	}
	if accepted != webhooks.TestBurst {
		t.Fatalf("%d of %d tests accepted, want the burst of %d", accepted, 3*webhooks.TestBurst, webhooks.TestBurst)
	}
	rc.wait(t, 1)
	var log struct{ Deliveries []struct{ ID, Status string } }
	if a := send(t, d.URL, "GET", "/v1/webhooks/deliveries?eventType=webhook.test&limit=200", key, ""); a.code != 200 ||
		json.Unmarshal([]byte(a.body), &log) != nil || len(log.Deliveries) != accepted {
		t.Fatalf("the log holds %d tests, want %d: %d %s", len(log.Deliveries), accepted, a.code, a.body)
	}
	// The neighbour's budget is its own.
	if a := send(t, d.URL, "POST", "/v1/webhooks/test", otherKey, ""); a.code != http.StatusAccepted {
		t.Fatalf("the neighbour's test: %d %s", a.code, a.body)
	}

	// A backlog: the receiver fails, and the app's connections queue
	// MaxPending connection.created events that wait for their retry.
	rc.setCode(http.StatusServiceUnavailable)
	if a := send(t, d.URL, "PATCH", "/v1/apps/"+d.App.App.ID, d.Admin,
		fmt.Sprintf(`{"app":{"webhookUrl":%q},"mask":{"paths":["webhookUrl"]}}`, rc.URL+"/demo")); a.code != 200 {
		t.Fatalf("set the demo app's webhookUrl: %d %s", a.code, a.body)
	}
	demoKey := "key:" + d.App.ClientSecret
	for i := 0; i < webhooks.MaxPending; i++ {
		if d.connectDemo(t, fmt.Sprintf("s%d", i), "allow").Query().Get("connectionId") == "" {
			t.Fatal("no connection")
		}
	}
	a := send(t, d.URL, "POST", "/v1/webhooks/test", demoKey, "")
	if code, _, ok := a.envelope(); a.code != http.StatusTooManyRequests || !ok || code != "rate_limited" ||
		a.h.Get("Retry-After") != fmt.Sprint(int(webhooks.PendingRetryAfter.Seconds())) {
		t.Fatalf("test with %d waiting: %d %v %s", webhooks.MaxPending, a.code, a.h, a.body)
	}
	var pend struct{ Deliveries []struct{ ID string } }
	_ = json.Unmarshal([]byte(send(t, d.URL, "GET", "/v1/webhooks/deliveries?status=pending&limit=200", demoKey, "").body), &pend)
	if len(pend.Deliveries) != webhooks.MaxPending {
		t.Fatalf("%d pending, want %d (a refused test queued something?)", len(pend.Deliveries), webhooks.MaxPending)
	}
	// Redeliveries are bounded the same way, and a neighbour is not.
	if a := send(t, d.URL, "POST", "/v1/webhooks/deliveries/"+first+"/redeliver", key, ""); a.code != http.StatusAccepted {
		t.Fatalf("the spammer's redeliver below its bound: %d %s", a.code, a.body)
	}
}

// A receiver that answers only at the timeout (a slow or hostile one) holds
// at most a quarter of a worker's delivery slots: another app's event goes
// out at once, not after the slow app's backlog.
func TestSlowReceiverHoldsBackNoOtherApp(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, most := 0, 0
	tarpit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer tarpit.Close()
	defer close(release)
	fast := newHookReceiver(t)
	d := newDemoBroker(t, func(c *config.Config) {
		c.Server.AllowInsecureLoopback = true
		c.Webhooks.Timeout = config.Duration(5 * time.Second)
		c.Webhooks.Concurrency = 8
	})
	_, slowKey := d.newApp(t, map[string]any{"name": "Tarpit", "webhookUrl": tarpit.URL + "/hooks"})
	_, fastKey := d.newApp(t, map[string]any{"name": "Neighbour", "webhookUrl": fast.URL + "/hooks"})
	for i := 0; i < webhooks.TestBurst; i++ {
		if a := send(t, d.URL, "POST", "/v1/webhooks/test", slowKey, ""); a.code != http.StatusAccepted {
			t.Fatalf("tarpit test %d: %d %s", i, a.code, a.body)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := inFlight
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // every slot the worker would give the tarpit is taken
	start := time.Now()
	if a := send(t, d.URL, "POST", "/v1/webhooks/test", fastKey, ""); a.code != http.StatusAccepted {
		t.Fatalf("neighbour test: %d %s", a.code, a.body)
	}
	fast.wait(t, 1)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the neighbour's delivery took %v behind a slow receiver", took)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 2 {
		t.Fatalf("the slow receiver held %d deliveries at once, want at most a quarter of 8", most)
	}
}

// The delivery log's cursor is the page's last delivery of the calling
// app, not a position in the outbox all apps share (which would tell how
// many events the other apps had); another app's cursor is refused.
func TestDeliveryLogCursorTellsNothing(t *testing.T) {
	rc := newHookReceiver(t)
	d := newDemoBroker(t, func(c *config.Config) { c.Server.AllowInsecureLoopback = true })
	_, keyA := d.newApp(t, map[string]any{"name": "First", "webhookUrl": rc.URL + "/a"})
	_, keyB := d.newApp(t, map[string]any{"name": "Second", "webhookUrl": rc.URL + "/b"})
	ids := map[string][]string{}
	for _, key := range []string{keyA, keyB, keyA, keyB, keyA} {
		a := send(t, d.URL, "POST", "/v1/webhooks/test", key, "")
		var out struct{ Delivery struct{ ID string } }
		if a.code != http.StatusAccepted || json.Unmarshal([]byte(a.body), &out) != nil {
			t.Fatalf("test: %d %s", a.code, a.body)
		}
		ids[key] = append(ids[key], out.Delivery.ID)
	}
	type page struct {
		Deliveries []struct{ ID string }
		NextCursor string
	}
	list := func(key, q string) (int, page) {
		a := send(t, d.URL, "GET", "/v1/webhooks/deliveries?"+q, key, "")
		var p page
		_ = json.Unmarshal([]byte(a.body), &p)
		return a.code, p
	}
	code, p := list(keyA, "limit=1")
	if code != 200 || len(p.Deliveries) != 1 || p.NextCursor != ids[keyA][2] {
		t.Fatalf("first page: %d %+v, want the cursor to be A's newest delivery %s", code, p, ids[keyA][2])
	}
	var seen []string
	for cur := ""; ; {
		q := "limit=1"
		if cur != "" {
			q += "&cursor=" + cur
		}
		code, p := list(keyA, q)
		if code != 200 {
			t.Fatalf("page after %q: %d", cur, code)
		}
		for _, dl := range p.Deliveries {
			seen = append(seen, dl.ID)
		}
		if cur = p.NextCursor; cur == "" {
			break
		}
	}
	if len(seen) != 3 || seen[0] != ids[keyA][2] || seen[2] != ids[keyA][0] {
		t.Fatalf("A paged %v, want its own %v newest first", seen, ids[keyA])
	}
	if code, _ := list(keyB, "cursor="+ids[keyA][1]); code != 400 {
		t.Fatalf("B with A's cursor: %d, want 400", code)
	}
}
