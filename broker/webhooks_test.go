package broker_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/oauthbroker/broker/config"
)

const hookAdmin = "admin-token-for-the-webhook-tests-0123456789"

// hookReceiver is an app's webhook endpoint on loopback; it answers with
// code (200 by default) and keeps what it got.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []hookDelivery
	code int
}

type hookDelivery struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{code: 200}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookDelivery{r.Header.Clone(), b})
		code := h.code
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

// wait returns the n-th delivery (1-based) once it arrived.
func (h *hookReceiver) wait(t *testing.T, n int) hookDelivery {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		if len(h.got) >= n {
			d := h.got[n-1]
			h.mu.Unlock()
			return d
		}
		h.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("delivery %d did not arrive", n)
	return hookDelivery{}
}

func (h *hookReceiver) setCode(c int) {
	h.mu.Lock()
	h.code = c
	h.mu.Unlock()
}

// verify checks d with the Standard Webhooks reference library, timestamp
// tolerance included, as a receiver in production would.
func verify(t *testing.T, secret string, d hookDelivery) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("the reference library refuses the secret the broker issued: %v", err)
	}
	return wh.Verify(d.body, d.header)
}

type hookAPI struct {
	t *testing.T
	h http.Handler
}

func (a hookAPI) do(method, path, auth string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Content-Type", "application/json")
	if k, ok := strings.CutPrefix(auth, "key:"); ok {
		r.Header.Set("X-Api-Key", k)
	} else {
		r.Header.Set("Authorization", "Bearer "+auth)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

func deliveries(m map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := m["deliveries"].([]any)
	for _, d := range list {
		out = append(out, d.(map[string]any))
	}
	return out
}

// The webhook routes end to end on the wired broker: the secret shown at
// creation verifies with the reference library; webhook.test goes out at
// once; the log shows it; a rotation signs with both secrets during the
// grace; redeliver resends the same webhook-id; 410 turns webhooks off until
// webhookUrl is set again; another app sees none of it.
func TestWebhookRoutesEndToEnd(t *testing.T) {
	rc := newHookReceiver(t)
	api := hookAPI{t: t, h: newBroker(t, func(c *config.Config) {
		c.Security.AdminToken = hookAdmin
		c.Server.AllowInsecureLoopback = true
	})}
	code, created := api.do("POST", "/v1/apps", hookAdmin, map[string]any{"app": map[string]any{
		"name": "Booking", "webhookUrl": rc.URL + "/hooks"}})
	if code != http.StatusCreated {
		t.Fatalf("create app: %d %v", code, created)
	}
	appID := created["app"].(map[string]any)["id"].(string)
	key := "key:" + created["clientSecret"].(string)
	secret1 := created["webhookSecret"].(string)
	_, other := api.do("POST", "/v1/apps", hookAdmin, map[string]any{"app": map[string]any{"name": "Other"}})
	otherKey := "key:" + other["clientSecret"].(string)

	code, q := api.do("POST", "/v1/webhooks/test", key, nil)
	if code != http.StatusAccepted {
		t.Fatalf("webhooks/test: %d %v", code, q)
	}
	testID := q["delivery"].(map[string]any)["id"].(string)
	d1 := rc.wait(t, 1)
	if err := verify(t, secret1, d1); err != nil {
		t.Fatalf("reference library: %v", err)
	}
	var body struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(d1.body, &body); err != nil || body.Type != "webhook.test" || body.Timestamp.IsZero() ||
		d1.header.Get("webhook-id") != testID {
		t.Fatalf("test delivery %s %v", d1.body, d1.header)
	}

	var rec map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, l := api.do("GET", "/v1/webhooks/deliveries", key, nil)
		if ds := deliveries(l); len(ds) == 1 && ds[0]["status"] == "delivered" {
			rec = ds[0]
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec == nil || rec["id"] != testID || rec["eventType"] != "webhook.test" || rec["attempts"] != 1.0 ||
		rec["lastStatusCode"] != 200.0 || rec["deliveredAt"] == nil || rec["nextAttemptAt"] != nil || rec["connectionId"] != nil {
		t.Fatalf("delivery log entry %v", rec)
	}
	if _, l := api.do("GET", "/v1/apps/"+appID+"/webhooks/deliveries", hookAdmin, nil); len(deliveries(l)) != 1 {
		t.Fatalf("admin view: %v", l)
	}
	if _, l := api.do("GET", "/v1/webhooks/deliveries", otherKey, nil); len(deliveries(l)) != 0 {
		t.Fatalf("another app sees the delivery: %v", l)
	}
	if code, _ := api.do("POST", "/v1/webhooks/deliveries/"+testID+"/redeliver", otherKey, nil); code != http.StatusNotFound {
		t.Fatalf("another app's redeliver: %d, want 404", code)
	}
	for _, bad := range []string{"?status=done", "?limit=0", "?limit=1000", "?cursor=abc", "?eventType=nope", "?colour=red"} {
		if code, m := api.do("GET", "/v1/webhooks/deliveries"+bad, key, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", bad, code, m)
		}
	}

	// Rotation: the new secret is shown once; during the grace both sign.
	code, rot := api.do("POST", "/v1/apps/"+appID+"/webhook-secret", hookAdmin, nil)
	secret2, _ := rot["webhookSecret"].(string)
	if code != http.StatusOK || !strings.HasPrefix(secret2, "whsec_") || secret2 == secret1 {
		t.Fatalf("rotate: %d %v", code, rot)
	}
	api.do("POST", "/v1/webhooks/test", key, nil)
	d2 := rc.wait(t, 2)
	if err := verify(t, secret1, d2); err != nil {
		t.Errorf("a receiver still on the old secret refuses: %v", err)
	}
	if err := verify(t, secret2, d2); err != nil {
		t.Errorf("a receiver on the new secret refuses: %v", err)
	}
	if n := len(strings.Fields(d2.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the grace, want 2", n)
	}

	// Redeliver: the same message again, same webhook-id.
	if code, m := api.do("POST", "/v1/webhooks/deliveries/"+testID+"/redeliver", key, nil); code != http.StatusAccepted {
		t.Fatalf("redeliver: %d %v", code, m)
	}
	if d3 := rc.wait(t, 3); d3.header.Get("webhook-id") != testID || !bytes.Equal(d3.body, d1.body) {
		t.Fatalf("redelivery id %q body %s", d3.header.Get("webhook-id"), d3.body)
	}

	// 410 Gone: webhooks go off; setting webhookUrl again turns them on.
	rc.setCode(http.StatusGone)
	api.do("POST", "/v1/webhooks/test", key, nil)
	rc.wait(t, 4)
	deadline = time.Now().Add(10 * time.Second)
	code = 0
	for time.Now().Before(deadline) && code != http.StatusConflict {
		code, _ = api.do("POST", "/v1/webhooks/test", key, nil)
		time.Sleep(20 * time.Millisecond)
	}
	if code != http.StatusConflict {
		t.Fatalf("webhooks/test after 410: %d, want 409", code)
	}
	rc.setCode(http.StatusOK)
	if code, m := api.do("PATCH", "/v1/apps/"+appID, hookAdmin, map[string]any{
		"app": map[string]any{"webhookUrl": rc.URL + "/hooks"}, "mask": map[string]any{"paths": []string{"webhookUrl"}}}); code != http.StatusOK {
		t.Fatalf("set webhookUrl again: %d %v", code, m)
	}
	if code, m := api.do("POST", "/v1/webhooks/test", key, nil); code != http.StatusAccepted {
		t.Fatalf("webhooks/test after webhookUrl was set again: %d %v", code, m)
	}
	if d := rc.wait(t, 5); verify(t, secret2, d) != nil {
		t.Fatal("delivery after re-enabling does not verify")
	}
}

// webhookUrl must be https; plain http only to loopback, and only when the
// operator allowed it.
func TestWebhookURLMustBeHTTPS(t *testing.T) {
	for _, tc := range []struct {
		allow bool
		url   string
		want  int
	}{
		{false, "https://hooks.example.com/in", http.StatusCreated},
		{false, "http://127.0.0.1:9/in", http.StatusBadRequest},
		{false, "http://hooks.example.com/in", http.StatusBadRequest},
		{true, "http://127.0.0.1:9/in", http.StatusCreated},
		{true, "http://localhost:9/in", http.StatusCreated},
		{true, "http://hooks.example.com/in", http.StatusBadRequest},
		{true, "ftp://hooks.example.com/in", http.StatusBadRequest},
	} {
		api := hookAPI{t: t, h: newBroker(t, func(c *config.Config) {
			c.Security.AdminToken = hookAdmin
			c.Server.AllowInsecureLoopback = tc.allow
		})}
		code, m := api.do("POST", "/v1/apps", hookAdmin, map[string]any{"app": map[string]any{"name": "Booking", "webhookUrl": tc.url}})
		if code != tc.want {
			t.Errorf("allowInsecureLoopback=%v %s: %d %v, want %d", tc.allow, tc.url, code, m, tc.want)
		}
	}
}
