package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHotPath drives, in one process and without a client socket, the
// tuned bare proxy and the whole broker (broker.New's handler: Gin,
// middlewares, app authentication, token cache, proxy) against the same
// in-process upstream, so allocations and CPU per request of the two can be
// compared on a loaded machine, where the harness's requests/s are noise:
//
//	go test -c -o /tmp/hp.test ./bench
//	/tmp/hp.test -test.run '^$' -test.bench HotPath -test.benchmem -test.benchtime 20000x
//	/usr/bin/time -f '%U %S' /tmp/hp.test -test.run '^$' -test.bench 'HotPath/broker-metrics$' -test.benchtime 20000x
//
// Each iteration's request gets its own cancelable context, as net/http's
// server gives one, since a per-request deadline costs more under such a
// parent than under context.Background.
func BenchmarkHotPath(b *testing.B) {
	up := httptest.NewServer(upstreamMux(time.Hour))
	b.Cleanup(up.Close)
	const path = "/calendars/primary/events?maxResults=10&singleEvents=true"

	// The headers Go's client sends, as the harness's load generator does.
	request := func(target string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		r.Header = http.Header{"User-Agent": {"Go-http-client/1.1"}, "Accept-Encoding": {"gzip"}}
		return r
	}
	b.Run("bare-tuned", func(b *testing.B) {
		runHotPath(b, bareProxy(up.URL, true), request(path))
	})
	for _, v := range []string{"off", "metrics"} {
		b.Run("broker-"+v, func(b *testing.B) {
			h, secret, connID := newBroker(b.TempDir(), up.URL, time.Minute, "warn", v, "")
			req := request("/proxy/" + connID + path)
			req.Header.Set("X-Api-Key", secret)
			runHotPath(b, h, req)
		})
	}
}

func runHotPath(b *testing.B, h http.Handler, req *http.Request) {
	w := &discardWriter{h: http.Header{}}
	serve := func() {
		ctx, cancel := context.WithCancel(context.Background())
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, req.WithContext(ctx))
		cancel()
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	serve() // the broker refreshes its seeded token once
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// discardWriter keeps nothing of the response, so the benchmark measures
// the handlers, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(code int) { w.code = code }
