package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
)

// syncBuffer is run's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var demoCreds = regexp.MustCompile(`CLIENT_ID=(\S+) CLIENT_SECRET=(\S+)`)

// The app's own route and the broker's routes answer on one server: the
// health check, the demo provider, and the app API with the demo app's
// credentials, whose connect page is on the same origin.
func TestEmbedServesAppAndBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Refresh.KeepAlive.Enabled = false
	cfg.Demo = true
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, cfg, &out) }()
	base := "http://" + ln.Addr().String()

	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no demo app printed:\n%s", out.String())
		}
		if strings.Contains(out.String(), "serving") {
			m = demoCreds.FindStringSubmatch(out.String())
		}
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "My booking site") {
		t.Errorf("the app's route: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get("/demo/"); code != 200 || !strings.Contains(body, "demo provider") {
		t.Errorf("/demo/: %d", code)
	}

	body, _ := json.Marshal(map[string]string{"scheduleId": "s1", "redirectUrl": base + "/demo/app"})
	req, _ := http.NewRequest("POST", base+"/v1/connect/sessions", bytes.NewReader(body))
	req.SetBasicAuth(m[1], m[2])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ ConnectURL string }
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !strings.HasPrefix(sess.ConnectURL, base+"/") {
		t.Fatalf("connect session: %d %+v", resp.StatusCode, sess)
	}
	if code, page := get(strings.TrimPrefix(sess.ConnectURL, base)); code != 200 || !strings.Contains(page, "Demo Calendar") {
		t.Errorf("connect page: %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
}
