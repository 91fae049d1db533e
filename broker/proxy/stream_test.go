package proxy

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heapWatch samples HeapInuse until stopped and reports the peak.
type heapWatch struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	done       sync.WaitGroup
}

func watchHeap() *heapWatch {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w := &heapWatch{stop: make(chan struct{})}
	w.base.Store(m.HeapInuse)
	w.peak.Store(m.HeapInuse)
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > w.peak.Load() {
					w.peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	return w
}

func (w *heapWatch) end() (base, peak, after uint64) {
	close(w.stop)
	w.done.Wait()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return w.base.Load(), w.peak.Load(), m.HeapInuse
}

// pattern is an endless reader that allocates nothing per read.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'u'
	}
	return len(p), nil
}

// A 50 MB upload and a 50 MB download stream through while the heap of the
// whole test process (client, broker and upstream) stays flat: the broker
// never holds a body.
func TestStreamingKeepsHeapFlat(t *testing.T) {
	const size = 50 << 20
	e := newEnv(t, Options{})
	e.up.handler = func(w http.ResponseWriter, r *http.Request, _ seen) bool {
		if r.URL.Path != basePath+"/download" {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, _ = io.Copy(w, io.LimitReader(pattern{}, size))
		return true
	}
	const limit = 20 << 20
	cases := []struct {
		name string
		do   func() (int64, error)
	}{
		{"upload", func() (int64, error) {
			req, _ := http.NewRequest("PUT", e.front.URL+"/proxy/con_1/upload", io.LimitReader(pattern{}, size))
			req.ContentLength = size
			return doDiscard(req)
		}},
		{"upload without length", func() (int64, error) {
			req, _ := http.NewRequest("PUT", e.front.URL+"/proxy/con_1/upload", io.LimitReader(pattern{}, size))
			req.ContentLength = -1
			return doDiscard(req)
		}},
		{"download", func() (int64, error) {
			req, _ := http.NewRequest("GET", e.front.URL+"/proxy/con_1/download", nil)
			return doDiscard(req)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := watchHeap()
			n, err := tc.do()
			base, peak, after := w.end()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s of %d MB: heap in use %.1f MB before, %.1f MB peak, %.1f MB after",
				tc.name, size>>20, mb(base), mb(peak), mb(after))
			if tc.name == "download" && n != size {
				t.Fatalf("downloaded %d bytes, want %d", n, size)
			}
			if tc.name != "download" {
				s := e.up.requests()
				if got := s[len(s)-1].BodyLen; got != size {
					t.Fatalf("upstream received %d bytes, want %d", got, size)
				}
			}
			if peak > base+limit {
				t.Fatalf("heap grew by %.1f MB while streaming %d MB: the body is being buffered", mb(peak-base), size>>20)
			}
		})
	}
}

func doDiscard(req *http.Request) (int64, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, err
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
