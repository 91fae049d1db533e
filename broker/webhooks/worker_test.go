package webhooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

// A delivery as a receiver sees it: Standard Webhooks headers that the
// reference library verifies, the documented body, no token, and the
// delivery recorded as delivered.
func TestDeliveryVerifiesWithTheReferenceLibrary(t *testing.T) {
	e := newEnv(t, nil)
	ev := e.event("con_a", model.EventConnectionCreated)
	if n := e.deliverDue(); n != 1 {
		t.Fatalf("attempts = %d, want 1", n)
	}
	got := e.rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d deliveries", len(got))
	}
	d := got[0]
	if d.Verified != nil {
		t.Fatalf("reference library refuses the delivery: %v", d.Verified)
	}
	if d.ID != ev.ID || d.Timestamp != unix(t0) || strings.Contains(d.Signature, " ") {
		t.Fatalf("headers id=%q ts=%q sig=%q", d.ID, d.Timestamp, d.Signature)
	}
	var body model.WebhookBody
	if err := json.Unmarshal(d.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != model.EventConnectionCreated || !body.Timestamp.Equal(t0) || body.Data.Connection == nil ||
		body.Data.Connection.ID != "con_a" || body.Data.Connection.Account.Email != "ann@example.com" {
		t.Fatalf("body %s", d.Body)
	}
	if bytes.Contains(d.Body, []byte("sealed-token-bytes")) || bytes.Contains(d.Body, []byte("credentials")) {
		t.Fatalf("the body carries the connection's credentials: %s", d.Body)
	}
	rec := e.get(ev.ID)
	if rec.Status != model.DeliveryDelivered || rec.LastStatusCode != 200 || rec.Attempts != 1 || !rec.DeliveredAt.Equal(t0) {
		t.Fatalf("delivery record %+v", rec)
	}
	if e.deliverDue() != 0 || len(e.rc.deliveries()) != 1 {
		t.Fatal("a delivered event went out again")
	}
}

// Only 2xx counts; every other answer is retried on the schedule until the
// last attempt, then the delivery is failed.
func TestRetriesOnTheScheduleThenFails(t *testing.T) {
	e := newEnv(t, nil)
	e.rc.setRespond(status(500))
	ev := e.event("con_a", model.EventConnectionDisconnect)
	for i, wait := range Schedule {
		if n := e.deliverDue(); n != 1 {
			t.Fatalf("attempt %d: %d attempts made, want 1", i+1, n)
		}
		rec := e.get(ev.ID)
		if rec.Status != model.DeliveryPending || rec.LastStatusCode != 500 || rec.LastError != "HTTP 500" ||
			!rec.NextAttemptAt.Equal(e.clock.Now().Add(wait)) {
			t.Fatalf("after attempt %d: %+v, want next attempt in %s", i+1, rec, wait)
		}
		e.clock.Advance(wait - time.Millisecond)
		if n := e.deliverDue(); n != 0 {
			t.Fatalf("attempt %d came %s early", i+2, time.Millisecond)
		}
		e.clock.Advance(time.Millisecond)
	}
	if n := e.deliverDue(); n != 1 {
		t.Fatal("no last attempt")
	}
	rec := e.get(ev.ID)
	if rec.Status != model.DeliveryFailed || rec.Attempts != len(Schedule)+1 || !rec.FailedAt.Equal(e.clock.Now()) {
		t.Fatalf("after the last attempt: %+v", rec)
	}
	e.clock.Advance(1000 * time.Hour)
	if e.deliverDue() != 0 {
		t.Fatal("a failed delivery was attempted again")
	}
	if n := len(e.rc.deliveries()); n != len(Schedule)+1 {
		t.Fatalf("receiver saw %d attempts, want %d", n, len(Schedule)+1)
	}
}

func TestJitterSpreadsWaitsWithinTenPercent(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := jitter(time.Hour)
		if d < 54*time.Minute || d > 66*time.Minute {
			t.Fatalf("jitter(1h) = %s, outside ±10%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct waits in 200: no jitter", len(seen))
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "3600", time.Hour},
		{"HTTP date", t0.Add(2 * time.Hour).Format(http.TimeFormat), 2 * time.Hour},
		{"shorter than the schedule", "1", Schedule[0]},
		{"capped at a day", "9999999", 24 * time.Hour},
		{"garbage", "soon", Schedule[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.rc.setRespond(status(http.StatusServiceUnavailable, "Retry-After", tc.header))
			ev := e.event("con_a", model.EventConnectionCreated)
			e.deliverDue()
			if rec := e.get(ev.ID); !rec.NextAttemptAt.Equal(t0.Add(tc.want)) || rec.LastStatusCode != 503 {
				t.Fatalf("next attempt at +%s (code %d), want +%s", rec.NextAttemptAt.Sub(t0), rec.LastStatusCode, tc.want)
			}
		})
	}
}

// A redirect is not followed: the target never sees the delivery, and a 3xx
// is not success.
func TestRedirectsAreNotFollowed(t *testing.T) {
	e := newEnv(t, nil)
	var hits atomic.Int32
	target := newReceiver(t, e.secret)
	target.setRespond(func(http.ResponseWriter, *http.Request, int) { hits.Add(1) })
	for _, code := range []int{301, 302, 307, 308} {
		e.rc.setRespond(status(code, "Location", target.URL+"/stolen"))
		ev := e.event(fmt.Sprintf("con_%d", code), model.EventConnectionCreated)
		e.deliverDue()
		rec := e.get(ev.ID)
		if rec.Status != model.DeliveryPending || rec.LastStatusCode != code || !strings.Contains(rec.LastError, "redirects are not followed") {
			t.Fatalf("%d: %+v", code, rec)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the redirect target got %d deliveries", hits.Load())
	}
}

// A receiver that does not answer in time costs one attempt, not the worker.
func TestSlowReceiverTimesOut(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	release := make(chan struct{})
	defer close(release)
	e.rc.setRespond(func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ev := e.event("con_a", model.EventConnectionCreated)
	start := time.Now()
	e.deliverDue()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("attempt took %s with a 200ms timeout", took)
	}
	rec := e.get(ev.ID)
	if rec.Status != model.DeliveryPending || rec.LastStatusCode != 0 || rec.LastError != "no answer within 200ms" {
		t.Fatalf("%+v", rec)
	}
}

// What a receiver answers is kept only as a short, printable excerpt, and
// no error names the webhookUrl (its query may hold the receiver's token).
func TestLastErrorIsAShortSanitizedExcerpt(t *testing.T) {
	e := newEnv(t, nil)
	e.rc.setRespond(func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(500)
		fmt.Fprintf(w, "<html>\x1b[31m\tboom\r\n\x00%s</html>", strings.Repeat("x", 5000))
	})
	ev := e.event("con_a", model.EventConnectionCreated)
	e.deliverDue()
	rec := e.get(ev.ID)
	if !strings.HasPrefix(rec.LastError, "HTTP 500: <html>[31m boom") || len(rec.LastError) > 260 ||
		strings.ContainsAny(rec.LastError, "\x1b\x00\r\n\t") {
		t.Fatalf("lastError %q (%d bytes)", rec.LastError, len(rec.LastError))
	}
	e.rc.Close() // now the dial fails
	e.clock.Advance(time.Hour)
	e.deliverDue()
	rec = e.get(ev.ID)
	if rec.LastStatusCode != 0 || rec.LastError == "" || strings.Contains(rec.LastError, "receiver-own-token") ||
		strings.Contains(rec.LastError, "/hooks") {
		t.Fatalf("lastError of a failed dial: %q", rec.LastError)
	}
}

// 410 Gone fails the delivery and turns the app's webhooks off: later events
// are failed without a request until webhookUrl is set again.
func TestGoneTurnsTheAppsWebhooksOff(t *testing.T) {
	e := newEnv(t, nil)
	e.rc.setRespond(status(http.StatusGone))
	first := e.event("con_a", model.EventConnectionCreated)
	e.deliverDue()
	if rec := e.get(first.ID); rec.Status != model.DeliveryFailed || rec.LastStatusCode != 410 {
		t.Fatalf("after 410: %+v", rec)
	}
	app, _ := e.st.GetApp(t.Context(), e.app.ID)
	if app.WebhooksDisabledAt.IsZero() {
		t.Fatal("410 did not turn the app's webhooks off")
	}
	e.rc.setRespond(nil)
	second := e.event("con_b", model.EventConnectionCreated)
	e.deliverDue()
	if rec := e.get(second.ID); rec.Status != model.DeliveryFailed || !strings.Contains(rec.LastError, "410 Gone") {
		t.Fatalf("event while off: %+v", rec)
	}
	if n := len(e.rc.deliveries()); n != 1 {
		t.Fatalf("receiver got %d requests while webhooks were off", n)
	}
	// What apps.Service.Update does when webhookUrl is set.
	if _, err := e.st.UpdateApp(t.Context(), e.app.ID, func(a model.App) (model.App, error) {
		a.WebhooksDisabledAt = time.Time{}
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	third := e.event("con_c", model.EventConnectionCreated)
	e.deliverDue()
	if rec := e.get(third.ID); rec.Status != model.DeliveryDelivered {
		t.Fatalf("after webhookUrl was set again: %+v", rec)
	}
}

// During a rotation's grace each delivery carries two signatures, the new
// secret's first; a receiver with either secret verifies it. After the
// grace only the new one signs.
func TestRotationGraceSignsWithBothSecrets(t *testing.T) {
	e := newEnv(t, nil)
	newSecret := "whsec_" + strings.Repeat("A", 43) + "="
	sealed, err := e.keys.Encrypt([]byte(newSecret), model.WebhookSecretAAD(e.app.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateApp(t.Context(), e.app.ID, func(a model.App) (model.App, error) {
		a.WebhookSecretPrev, a.WebhookSecretPrevUntil = a.WebhookSecret, t0.Add(24*time.Hour)
		a.WebhookSecret = sealed
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.event("con_a", model.EventConnectionCreated) // receiver still holds the old secret
	e.deliverDue()
	e.rc.mu.Lock()
	e.rc.secret = newSecret // receiver switched
	e.rc.mu.Unlock()
	e.event("con_b", model.EventConnectionCreated)
	e.deliverDue()
	e.clock.Advance(24 * time.Hour)
	e.event("con_c", model.EventConnectionCreated)
	e.deliverDue()
	got := e.rc.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries", len(got))
	}
	for i, d := range got {
		if d.Verified != nil {
			t.Errorf("delivery %d refused: %v", i, d.Verified)
		}
	}
	if n := len(strings.Fields(got[0].Signature)); n != 2 {
		t.Errorf("during the grace: %d signatures, want 2", n)
	}
	if n := len(strings.Fields(got[2].Signature)); n != 1 {
		t.Errorf("after the grace: %d signatures, want 1", n)
	}
}

// Events of one connection arrive in the order they happened: a later one
// waits while an earlier one is retried. Other connections go on.
func TestPerConnectionOrderWhileRetrying(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.event("con_a", model.EventConnectionCreated)
	var a1Tries atomic.Int32
	e.rc.setRespond(func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get(HeaderID) == a1.ID && a1Tries.Add(1) <= 2 { // con_a's first event fails twice
			w.WriteHeader(503)
		}
	})
	a2 := e.event("con_a", model.EventConnectionNeedsReauth)
	b1 := e.event("con_b", model.EventConnectionCreated)
	e.deliverDue() // a1 fails; b1 delivered; a2 waits
	if e.get(b1.ID).Status != model.DeliveryDelivered || e.get(a2.ID).Attempts != 0 {
		t.Fatalf("con_b held up or con_a's second event jumped ahead: b1 %+v a2 %+v", e.get(b1.ID), e.get(a2.ID))
	}
	e.clock.Advance(Schedule[0])
	e.deliverDue() // a1 fails again
	e.clock.Advance(Schedule[1])
	e.deliverDue() // a1 delivered, then a2
	var order []string
	for _, d := range e.rc.deliveries() {
		if d.ID != b1.ID { // b1 raced a1's first attempt in the same batch
			order = append(order, d.ID)
		}
	}
	want := []string{a1.ID, a1.ID, a1.ID, a2.ID}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("con_a's requests %v, want %v", order, want)
	}
}

// A receiver down for six simulated hours: every event queued before and
// during the outage arrives once it is back, each connection's in the order
// they happened.
func TestSixHourOutageLosesNothingAndKeepsOrder(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Jitter = nil }) // the real jitter
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	accepted := map[string][]string{} // per connection: ids in the order they were accepted
	e.rc.setRespond(func(w http.ResponseWriter, r *http.Request, n int) {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body model.WebhookBody
		b := e.rc.deliveries()[n].Body
		if err := json.Unmarshal(b, &body); err != nil || body.Data.Connection == nil {
			t.Errorf("body %s: %v", b, err)
			return
		}
		mu.Lock()
		accepted[body.Data.Connection.ID] = append(accepted[body.Data.Connection.ID], r.Header.Get(HeaderID))
		mu.Unlock()
	})
	conns := []string{"con_a", "con_b", "con_c"}
	types := []string{model.EventConnectionCreated, model.EventConnectionNeedsReauth, model.EventConnectionReconnected, model.EventConnectionDisconnect}
	want := map[string][]string{}
	total := 0
	for minute := 0; minute < 6*60; minute++ {
		if minute%20 == 0 { // an event every 20 simulated minutes, round robin
			c := conns[total%len(conns)]
			want[c] = append(want[c], e.event(c, types[total%len(types)]).ID)
			total++
		}
		e.deliverDue()
		e.clock.Advance(time.Minute)
	}
	down.Store(false)
	for range 24 * 60 { // a simulated day to catch up
		e.deliverDue()
		e.clock.Advance(time.Minute)
	}
	for _, d := range e.rc.deliveries() {
		if d.Verified != nil {
			t.Fatalf("delivery %s does not verify: %v", d.ID, d.Verified)
		}
	}
	for _, c := range conns {
		if fmt.Sprint(accepted[c]) != fmt.Sprint(want[c]) {
			t.Errorf("%s: accepted %v, want %v (each once, in order)", c, accepted[c], want[c])
		}
		for _, id := range want[c] {
			if rec := e.get(id); rec.Status != model.DeliveryDelivered {
				t.Errorf("%s is %s: %s", id, rec.Status, rec.LastError)
			}
		}
	}
	if total != 18 {
		t.Fatalf("%d events in the outage, want 18", total)
	}
}
