// Command bench is the load harness of the broker's proxy (issue 5, see
// README.md here and docs/performance.md). In one run it starts a local
// upstream, a bare httputil.ReverseProxy with a fixed Authorization header
// (Go's default transport), the same bare proxy with the broker's tuned
// transport, and the real broker (broker.New, its whole HTTP stack), each
// in its own process; then it drives each at several concurrencies with
// keep-alive, in interleaved repetitions, and prints requests/s, p50, p99
// and the broker/bare ratios pair by pair. With -soak it drives the broker
// alone for a long run while its token is refreshed, and reports errors and
// the broker's heap at start and end.
//
//	go run ./bench -duration 10s
//	go run ./bench -soak
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	var (
		role      = flag.String("role", "", "internal: run one process of the harness (upstream, bare, bare-tuned, broker)")
		upstream  = flag.String("upstream", "", "internal: the upstream's URL")
		duration  = flag.Duration("duration", 5*time.Second, "length of each measured run (soak: default 60s)")
		warmup    = flag.Duration("warmup", time.Second, "unmeasured run before each measured one")
		reps      = flag.Int("reps", 3, "interleaved repetitions")
		concs     = flag.String("conc", "32,128", "concurrencies, comma separated (soak: the first)")
		soak      = flag.Bool("soak", false, "soak the broker alone instead: errors and heap, refreshes during the run")
		lifetime  = flag.Duration("token-lifetime", time.Hour, "access token lifetime at the upstream (soak: default 10s)")
		margin    = flag.Duration("margin", time.Minute, "the broker's cache.expiryMargin (soak: default 5s)")
		logLevel  = flag.String("log", "warn", "the broker's log level: warn (access log off) or info (access log formatted, then discarded)")
		path      = flag.String("path", "/calendars/primary/events?maxResults=10&singleEvents=true", "API path requested")
		tel       = flag.String("telemetry", "off", "broker variants to drive, comma separated: off, metrics (Prometheus on, tracing off), trace100 and trace1 (metrics and OTLP tracing at 100% / 1% sampling, to a local sink), core (the proxy core alone with metrics: no Gin, middleware or app authentication)")
		collector = flag.String("collector", "", "internal: the OTLP/HTTP sink's URL (broker role)")
		paired    = flag.Bool("paired", false, "drive each broker variant at the same time as bare-tuned (same moments, same load from other jobs) instead of one target after the other")
		perSecond = flag.Float64("rate", 0, "cap on the total request rate of each run (0: as fast as the target answers); at a rate every target sustains, CPU per request compares the targets' work")
	)
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *soak {
		if !set["duration"] {
			*duration = 60 * time.Second
		}
		if !set["conc"] {
			*concs = "128"
		}
		if !set["token-lifetime"] {
			*lifetime = 10 * time.Second
		}
		if !set["margin"] {
			*margin = 5 * time.Second
		}
	}
	switch *role {
	case "":
	case "upstream":
		exitWithParent()
		runUpstream(*lifetime)
		return
	case "bare", "bare-tuned":
		exitWithParent()
		runBare(*upstream, *role == "bare-tuned")
		return
	case "broker":
		exitWithParent()
		runBroker(*upstream, *margin, *logLevel, *tel, *collector)
		return
	case "collector":
		exitWithParent()
		runCollector()
		return
	default:
		fatal(fmt.Errorf("unknown role %q", *role))
	}

	var cs []int
	for _, s := range strings.Split(*concs, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c <= 0 {
			fatal(fmt.Errorf("bad -conc %q", *concs))
		}
		cs = append(cs, c)
	}
	var variants []string
	for _, v := range strings.Split(*tel, ",") {
		v = strings.TrimSpace(v)
		if _, ok := telemetryVariants[v]; !ok {
			fatal(fmt.Errorf("bad -telemetry %q: want off, metrics, trace100, trace1 or core", v))
		}
		variants = append(variants, v)
	}
	if *soak {
		variants = variants[:1]
	}
	h := startAll(*lifetime, *margin, *logLevel, *soak, variants)
	defer h.stop()
	if *soak {
		os.Exit(runSoak(h, *path, cs[0], *duration, *warmup))
	}
	if *paired {
		runPaired(h, *path, cs, *reps, *duration, *warmup, *perSecond)
		return
	}
	runCompare(h, *path, cs, *reps, *duration, *warmup, *perSecond)
}

// harness is the running processes.
type harness struct {
	upstream, bare, bareTuned string // base URLs
	brokers                   []brokerProc
	procs                     []*exec.Cmd
	pids                      map[string]int // target name -> process id
}

// brokerProc is one broker process, in one telemetry variant.
type brokerProc struct {
	name, url, secret, connID string
}

func startAll(lifetime, margin time.Duration, logLevel string, soak bool, variants []string) *harness {
	h := &harness{pids: map[string]int{}}
	f := h.spawn("-role", "upstream", "-token-lifetime", lifetime.String())
	h.upstream = "http://" + f[0]
	if !soak {
		h.bare = "http://" + h.spawn("-role", "bare", "-upstream", h.upstream)[0]
		h.pids["bare"] = h.lastPID()
		h.bareTuned = "http://" + h.spawn("-role", "bare-tuned", "-upstream", h.upstream)[0]
		h.pids["bare-tuned"] = h.lastPID()
	}
	collector := ""
	for _, v := range variants {
		if strings.HasPrefix(v, "trace") && collector == "" {
			collector = "http://" + h.spawn("-role", "collector")[0]
		}
	}
	for _, v := range variants {
		f = h.spawn("-role", "broker", "-upstream", h.upstream, "-margin", margin.String(), "-log", logLevel,
			"-telemetry", v, "-collector", collector)
		name := "broker"
		if len(variants) > 1 || v != "off" {
			name = "broker-" + v
		}
		h.brokers = append(h.brokers, brokerProc{name: name, url: "http://" + f[0], secret: f[1], connID: f[2]})
		h.pids[name] = h.lastPID()
	}
	return h
}

func (h *harness) lastPID() int { return h.procs[len(h.procs)-1].Process.Pid }

// spawn starts this program in a role and returns the fields of its READY
// line. The child's stdin is a pipe from us: it exits when we do.
func (h *harness) spawn(args ...string) []string {
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil {
		fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	h.procs = append(h.procs, cmd)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		h.stop()
		fatal(fmt.Errorf("%s did not start: %w", args[1], err))
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "READY" {
		h.stop()
		fatal(fmt.Errorf("%s: unexpected %q", args[1], line))
	}
	return f[1:]
}

func (h *harness) stop() {
	for _, p := range h.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
}

// exitWithParent ends a role process when the harness goes away (its stdin
// closes), so no server outlives a run.
func exitWithParent() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}

func (h *harness) targets(path string) []target {
	ts := []target{
		{name: "bare", url: h.bare + path, header: http.Header{}},
		{name: "bare-tuned", url: h.bareTuned + path, header: http.Header{}},
	}
	return append(ts, h.brokerTargets(path)...)
}

func (h *harness) brokerTargets(path string) []target {
	var ts []target
	for _, b := range h.brokers {
		ts = append(ts, target{name: b.name, url: b.url + "/proxy/" + b.connID + path, header: http.Header{"X-Api-Key": {b.secret}}})
	}
	return ts
}

// runCompare measures every target at every concurrency, reps times,
// rotating the order of targets between repetitions. Besides requests/s and
// latency it reads each server process's CPU time (user + system, from
// /proc) around each measured run: CPU per request is what a saturated
// machine pays, whatever the other processes on it get.
func runCompare(h *harness, path string, cs []int, reps int, d, warm time.Duration, perSecond float64) {
	ctx := context.Background()
	ts := h.targets(path)
	maxC := 0
	for _, c := range cs {
		maxC = max(maxC, c)
	}
	client := newClient(maxC)
	fmt.Printf("upstream %s, bare %s, bare-tuned %s", h.upstream, h.bare, h.bareTuned)
	for _, b := range h.brokers {
		fmt.Printf(", %s %s", b.name, b.url)
	}
	capped := "uncapped"
	if perSecond > 0 {
		capped = fmt.Sprintf("capped at %.0f req/s", perSecond)
	}
	fmt.Printf("\neach run %s after %s warm-up, %s; %d repetitions; GOMAXPROCS per process %s\n\n", d, warm, capped, reps, gomaxprocs())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rep\tconc\ttarget\treq/s\tp50\tp99\terrors\tCPU µs/req\t/bare rps\tp99\t/bare-tuned rps\tp99\tCPU\t")
	type key struct {
		c    int
		name string
	}
	ratios := map[key][][5]float64{}
	var offName string
	for _, b := range h.brokers {
		if strings.HasSuffix(b.name, "off") || b.name == "broker" {
			offName = b.name
		}
	}
	vsOff := map[key][]float64{}
	for rep := 1; rep <= reps; rep++ {
		for _, c := range cs {
			res := map[string]result{}
			for i := range ts {
				t := ts[(i+rep-1)%len(ts)]
				_ = drive(ctx, client, t, c, warm, perSecond)
				cpu0 := cpuTime(h.pids[t.name])
				r := drive(ctx, client, t, c, d, perSecond)
				if r.requests > 0 {
					r.cpuPerReq = (cpuTime(h.pids[t.name]) - cpu0) / time.Duration(r.requests)
				}
				res[t.name] = r
			}
			for _, t := range ts {
				r := res[t.name]
				line := fmt.Sprintf("%d\t%d\t%s\t%.0f\t%s\t%s\t%d\t%.1f\t", rep, c, t.name, r.rps(), ms(r.p50), ms(r.p99), r.errors,
					float64(r.cpuPerReq.Nanoseconds())/1000)
				if strings.HasPrefix(t.name, "broker") {
					b, bt := res["bare"], res["bare-tuned"]
					q := [5]float64{r.rps() / b.rps(), r.p99.Seconds() / b.p99.Seconds(),
						r.rps() / bt.rps(), r.p99.Seconds() / bt.p99.Seconds(),
						r.cpuPerReq.Seconds() / bt.cpuPerReq.Seconds()}
					ratios[key{c, t.name}] = append(ratios[key{c, t.name}], q)
					if offName != "" {
						vsOff[key{c, t.name}] = append(vsOff[key{c, t.name}], r.rps()/res[offName].rps())
					}
					line += fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t", q[0], q[1], q[2], q[3], q[4])
				} else {
					line += "\t\t\t\t\t"
				}
				fmt.Fprintln(tw, line)
				if r.errors > 0 {
					fmt.Fprintf(os.Stderr, "%s: first error: %s\n", t.name, r.firstErr)
				}
			}
		}
	}
	_ = tw.Flush()
	fmt.Println("\nmedian (min–max) over the repetitions; goals: broker/bare rps >= 0.90, p99 <= 1.20;")
	fmt.Println("with metrics on: broker/bare-tuned rps >= 0.90 and CPU/req <= 1.15, and >= 0.97x the rps of telemetry off:")
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
			fmt.Printf("  conc %3d %-16s /bare rps %s p99 %s | /bare-tuned rps %s p99 %s CPU/req %s",
				c, b.name, spread(col(0)), spread(col(1)), spread(col(2)), spread(col(3)), spread(col(4)))
			if offName != "" && b.name != offName {
				fmt.Printf(" | /%s rps %s", offName, spread(vsOff[key{c, b.name}]))
			}
			fmt.Println()
		}
	}
}

// spread is "median (min–max)".
func spread(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", median(v), slices.Min(v), slices.Max(v))
}

// cpuTime is the user + system CPU time process pid has used so far, from
// /proc/pid/stat (Linux); 0 where that cannot be read.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, which is 100 on every Linux Go supports.
const clockTicks = 100

// runSoak drives the broker alone while its token expires and is refreshed
// again and again, and reports errors and the broker's heap.
func runSoak(h *harness, path string, c int, d, warm time.Duration) int {
	ctx := context.Background()
	client := newClient(c)
	t := h.brokerTargets(path)[0]
	_ = drive(ctx, client, t, c, warm, 0)
	start := h.mem(true)
	tokBefore := h.upstreamStats()["tokenCalls"]
	fmt.Printf("soak: %s at concurrency %d; broker heap at start (after GC): live %s, in use %s, %d goroutines\n",
		d, c, mib(start.HeapAlloc), mib(start.HeapInuse), start.Goroutines)
	done := make(chan result)
	go func() { done <- drive(ctx, client, t, c, d, 0) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	var r result
	for wait := true; wait; {
		select {
		case r = <-done:
			wait = false
		case <-tick.C:
			m := h.mem(false)
			fmt.Printf("  heap in use %s (not collected), %d goroutines\n", mib(m.HeapInuse), m.Goroutines)
		}
	}
	end := h.mem(true)
	st := h.upstreamStats()
	fmt.Printf("soak done: %d requests, %.0f req/s, p50 %s, p99 %s, errors %d, token refreshes %d, upstream 401s %d\n",
		r.requests, r.rps(), ms(r.p50), ms(r.p99), r.errors, st["tokenCalls"]-tokBefore, st["unauthorized"])
	fmt.Printf("broker heap after GC: live %s -> %s, in use %s -> %s; goroutines %d -> %d\n",
		mib(start.HeapAlloc), mib(end.HeapAlloc), mib(start.HeapInuse), mib(end.HeapInuse), start.Goroutines, end.Goroutines)
	if r.errors > 0 {
		fmt.Printf("FAIL: %d errors, first: %s\n", r.errors, r.firstErr)
		return 1
	}
	return 0
}

func (h *harness) mem(gc bool) memStats {
	u := h.brokers[0].url + "/__bench/mem"
	if gc {
		u += "?gc=1"
	}
	var m memStats
	getJSON(u, &m)
	return m
}

func (h *harness) upstreamStats() map[string]int64 {
	m := map[string]int64{}
	getJSON(h.upstream+"/__bench/stats", &m)
	return m
}

func getJSON(u string, v any) {
	resp, err := http.Get(u)
	if err != nil {
		fatal(err)
	}
	defer resp.Body.Close()
	fatal(json.NewDecoder(resp.Body).Decode(v))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", d.Seconds()*1000) }

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func gomaxprocs() string {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		return v
	}
	return "default"
}
