package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// target is one thing the harness drives.
type target struct {
	name   string
	url    string // full URL of the request
	header http.Header
}

// result is one measured run.
type result struct {
	requests, errors int
	elapsed          time.Duration
	p50, p99         time.Duration
	cpuPerReq        time.Duration // the server process's CPU time per request
	firstErr         string
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// newClient is the load generator's client: one shared keep-alive transport
// with an idle pool larger than any concurrency used.
func newClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: 0, MaxIdleConnsPerHost: 2 * conc, MaxConnsPerHost: 0,
		IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}}
}

// drive sends requests to t from conc workers for d, each worker waiting for
// its answer before the next (closed loop, keep-alive), and returns
// throughput and latency percentiles. Any status but 200 is an error.
// perSecond > 0 caps the workers' total rate: every target that keeps up
// then serves the same rate, so their CPU per request compares work done,
// not how well a loaded machine let each batch its system calls.
func drive(ctx context.Context, c *http.Client, t target, conc int, d time.Duration, perSecond float64) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var lim *rate.Limiter
	if perSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(perSecond), conc)
	}
	type worker struct {
		lat    []time.Duration
		errors int
		first  string
	}
	ws := make([]worker, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ws {
		w := &ws[i]
		w.lat = make([]time.Duration, 0, 1<<14)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if lim != nil && lim.Wait(ctx) != nil {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
				if err != nil {
					panic(err)
				}
				req.Header = t.header.Clone()
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return // the run ended mid-request: not an error
					}
					w.errors++
					if w.first == "" {
						w.first = err.Error()
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					w.errors++
					if w.first == "" {
						w.first = resp.Status + " " + resp.Header.Get("X-Broker-Error")
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range ws {
		all = append(all, w.lat...)
		r.errors += w.errors
		if r.firstErr == "" {
			r.firstErr = w.first
		}
	}
	r.requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		r.p50 = all[len(all)*50/100]
		r.p99 = all[len(all)*99/100]
	}
	return r
}
