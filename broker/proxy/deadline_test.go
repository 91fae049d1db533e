package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The deadline bounds the whole call, not only the wait for the response
// head: an upstream that sends its head and part of a body and then stalls
// is cut at proxy.timeout (plus one sweep tick), and sees its own request
// end.
func TestDeadlineCutsAStalledBody(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, Options{Timeout: timeout})
	upstreamDone := make(chan time.Duration, 1)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		start := time.Now()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "first part;")
		w.(http.Flusher).Flush()
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		upstreamDone <- time.Since(start)
		return true
	}
	start := time.Now()
	resp, err := http.Get(e.front.URL + "/proxy/" + connID + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "first part;") {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if rerr == nil {
		t.Fatalf("the cut body ended cleanly: %q", body)
	}
	if max := timeout + sweepTick(timeout) + 2*time.Second; took < timeout || took > max {
		t.Fatalf("call ended after %s, want between %s and %s", took, timeout, max)
	}
	select {
	case d := <-upstreamDone:
		if d > timeout+2*time.Second {
			t.Fatalf("upstream request ended after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream's request never ended")
	}
}

// An upload the provider does not read and does not answer is cut at the
// deadline with upstream_timeout.
func TestDeadlineCutsAStalledUpload(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, Options{Timeout: timeout, RetryBodyLimit: -1})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return true
	}
	start := time.Now()
	resp, body := rawDoBody(t, e.front, "PUT", "/proxy/"+connID+"/upload", strings.Repeat("a", 64<<10),
		"Content-Length: 65536")
	wantBrokerError(t, resp, body, "upstream_timeout")
	if took := time.Since(start); took < timeout || took > timeout+sweepTick(timeout)+2*time.Second {
		t.Fatalf("answered after %s", took)
	}
}

// A caller that goes away ends the upstream call too, within a sweep tick,
// not at the deadline.
func TestCallerGoneEndsUpstreamCall(t *testing.T) {
	const timeout = 20 * time.Second
	e := newEnv(t, Options{Timeout: timeout})
	arrived, upstreamDone := make(chan struct{}), make(chan struct{})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		close(arrived)
		select {
		case <-hang:
		case <-r.Context().Done():
			close(upstreamDone)
		}
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.front.URL+"/proxy/"+connID+"/slow", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	select {
	case <-upstreamDone:
	case <-time.After(sweepTick(timeout) + 3*time.Second):
		t.Fatal("the upstream call outlived its caller")
	}
}

// The call's context keeps the contract of a context: children end with
// it, with its cause; stop prevents an AfterFunc; values pass through; no
// goroutine watches it (the context package finds its cancellation through
// a value context, as the transport's context does under ReverseProxy's
// httptrace context); and the sweeper's goroutine stops once nothing is in
// flight.
func TestCallContext(t *testing.T) {
	type key struct{}
	s := &sweeper{timeout: 50 * time.Millisecond, tick: 5 * time.Millisecond}
	parent := context.WithValue(context.Background(), key{}, "v")

	c := &call{}
	s.begin(c, parent)
	if callFrom(c) != c || c.Value(key{}) != "v" {
		t.Fatal("values do not pass through")
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) > 50*time.Millisecond {
		t.Fatalf("deadline %v %v", d, ok)
	}
	before := runtime.NumGoroutine()
	wrapped := context.WithValue(c, key{}, "w")
	children := make([]context.CancelFunc, 100)
	for i := range children {
		_, children[i] = context.WithCancel(wrapped)
	}
	if n := runtime.NumGoroutine(); n > before+10 {
		t.Fatalf("%d goroutines for 100 children", n-before)
	}
	for _, cancel := range children {
		cancel()
	}
	child, cancelChild := context.WithCancelCause(wrapped)
	defer cancelChild(nil)
	ran := make(chan struct{})
	stopped := context.AfterFunc(c, func() { t.Error("a stopped AfterFunc ran") })
	context.AfterFunc(c, func() { close(ran) })
	if !stopped() {
		t.Fatal("stop did not stop")
	}
	if c.Err() != nil || context.Cause(c) != nil {
		t.Fatal("ended early")
	}
	<-child.Done()
	// A child's error is Canceled, its cause (what the transport reports)
	// the deadline.
	if child.Err() == nil || !errors.Is(context.Cause(child), context.DeadlineExceeded) ||
		!errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(c), context.DeadlineExceeded) {
		t.Fatalf("child %v, cause %v, call %v, cause %v", child.Err(), context.Cause(child), c.Err(), context.Cause(c))
	}
	<-ran
	s.finish(c) // after the deadline: no effect on the error
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("err %v", c.Err())
	}

	// The request's own end is seen within a tick.
	pctx, pcancel := context.WithCancel(context.Background())
	c2 := &call{}
	s.begin(c2, pctx)
	pcancel()
	select {
	case <-c2.Done():
	case <-time.After(time.Second):
		t.Fatal("the request's end was not seen")
	}
	if !errors.Is(c2.Err(), context.Canceled) {
		t.Fatalf("err %v", c2.Err())
	}
	s.finish(c2)

	// Finished normally: Canceled, and children end at once.
	c3 := &call{}
	s.begin(c3, context.Background())
	child3, cancel3 := context.WithCancel(c3)
	defer cancel3()
	s.finish(c3)
	if !errors.Is(child3.Err(), context.Canceled) {
		t.Fatalf("child %v", child3.Err())
	}
	// A child that ended first (the transport's, once its response is
	// read) is left as it was when the call ends.
	c4 := &call{}
	s.begin(c4, context.Background())
	child4, cancel4 := context.WithCancelCause(c4)
	mine := errors.New("child's own end")
	cancel4(mine)
	s.finish(c4)
	if !errors.Is(context.Cause(child4), mine) {
		t.Fatalf("child cause %v", context.Cause(child4))
	}
	late := make(chan struct{})
	context.AfterFunc(c3, func() { close(late) })
	<-late

	deadline := time.Now().Add(time.Second)
	for {
		if !s.running.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper still runs with nothing in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Calls coming and going on many goroutines while the sweeper stops and
	// starts: every call past its deadline is ended, none is left behind.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				c := &call{}
				s.begin(c, context.Background())
				if (g+i)%50 == 0 {
					select {
					case <-c.Done():
					case <-time.After(2 * time.Second):
						t.Error("a call outlived its deadline by 2s")
					}
				} else if i%7 == 0 {
					time.Sleep(time.Millisecond)
				}
				s.finish(c)
			}
		}()
	}
	wg.Wait()
}
