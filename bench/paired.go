package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"text/tabwriter"
	"time"
)

// runPaired drives each broker variant and the tuned bare proxy at the
// same time, each with conc workers, and compares them run by run. Load
// from other jobs then falls on both alike: on a shared machine the
// sequential runs of runCompare each meet a different load, and CPU per
// request follows the throughput a run happened to get (fewer requests per
// wake-up cost more each), so their ratios scatter; paired runs keep the
// ratio. The two also compete with each other for the cores, fairly.
func runPaired(h *harness, path string, cs []int, reps int, d, warm time.Duration, perSecond float64) {
	ctx := context.Background()
	maxC := 0
	for _, c := range cs {
		maxC = max(maxC, c)
	}
	client := newClient(2 * maxC)
	bare := target{name: "bare-tuned", url: h.bareTuned + path, header: http.Header{}}
	capped := "uncapped"
	if perSecond > 0 {
		capped = fmt.Sprintf("each capped at %.0f req/s", perSecond)
	}
	fmt.Printf("bare-tuned %s", h.bareTuned)
	for _, b := range h.brokers {
		fmt.Printf(", %s %s", b.name, b.url)
	}
	fmt.Printf("\npaired: each broker variant driven together with bare-tuned; each run %s after %s warm-up, %s; %d repetitions\n\n",
		d, warm, capped, reps)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rep\tconc\ttarget\treq/s\tp99\tCPU µs/req\tbare-tuned req/s\tp99\tCPU µs/req\t/bare-tuned rps\tp99\tCPU\t")
	type key struct {
		c    int
		name string
	}
	ratios := map[key][][3]float64{}
	for rep := 1; rep <= reps; rep++ {
		for _, c := range cs {
			for _, t := range h.brokerTargets(path) {
				both := func(d time.Duration) (result, result) {
					var rb, rt result
					var wg sync.WaitGroup
					wg.Add(2)
					go func() { defer wg.Done(); rb = drive(ctx, client, bare, c, d, perSecond) }()
					go func() { defer wg.Done(); rt = drive(ctx, client, t, c, d, perSecond) }()
					wg.Wait()
					return rb, rt
				}
				_, _ = both(warm)
				cb0, ct0 := cpuTime(h.pids[bare.name]), cpuTime(h.pids[t.name])
				rb, rt := both(d)
				cb, ct := cpuTime(h.pids[bare.name])-cb0, cpuTime(h.pids[t.name])-ct0
				if rb.requests > 0 && rt.requests > 0 {
					rb.cpuPerReq, rt.cpuPerReq = cb/time.Duration(rb.requests), ct/time.Duration(rt.requests)
				}
				q := [3]float64{rt.rps() / rb.rps(), rt.p99.Seconds() / rb.p99.Seconds(), rt.cpuPerReq.Seconds() / rb.cpuPerReq.Seconds()}
				ratios[key{c, t.name}] = append(ratios[key{c, t.name}], q)
				fmt.Fprintf(tw, "%d\t%d\t%s\t%.0f\t%s\t%.1f\t%.0f\t%s\t%.1f\t%.2f\t%.2f\t%.2f\t\n", rep, c, t.name,
					rt.rps(), ms(rt.p99), us(rt.cpuPerReq), rb.rps(), ms(rb.p99), us(rb.cpuPerReq), q[0], q[1], q[2])
				for _, r := range []result{rb, rt} {
					if r.errors > 0 {
						fmt.Fprintf(os.Stderr, "errors: %d, first: %s\n", r.errors, r.firstErr)
					}
				}
			}
		}
	}
	_ = tw.Flush()
	fmt.Println("\nmedian (min–max) over the repetitions; goal with metrics on: /bare-tuned rps >= 0.90 and CPU/req <= 1.15:")
	for _, c := range cs {
		for _, b := range h.brokers {
			qs := ratios[key{c, b.name}]
			col := func(i int) []float64 {
				v := make([]float64, len(qs))
				for j, q := range qs {
					v[j] = q[i]
				}
				return v
			}
			fmt.Printf("  conc %3d %-16s /bare-tuned rps %s p99 %s CPU/req %s\n", c, b.name,
				spread(col(0)), spread(col(1)), spread(col(2)))
		}
	}
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
