package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type counts struct{ passed, failed, skipped int }

func main() {
	out := flag.String("o", "", "also write the closing line to this file")
	flag.Parse()
	c, failedAny := summarize(os.Stdin, os.Stdout)
	line := fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
	fmt.Println(line)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(line+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
	}
	if failedAny || c.failed > 0 {
		os.Exit(1)
	}
}

// summarize reads events from r and writes the readable report to w. It
// keeps each running test's output until the test ends, printing it only
// when the test failed; package-level output (build errors, panics outside
// tests, the ok/FAIL line) is printed as it comes.
func summarize(r io.Reader, w io.Writer) (counts, bool) {
	var c counts
	failedAny := false
	buf := map[string]*strings.Builder{} // package + test -> output so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not test2json (a build error printed by go itself): pass it on.
			fmt.Fprintln(w, string(line))
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch e.Action {
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			failedAny = true
		case "output":
			if e.Test == "" {
				if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS\n") {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			b := buf[key]
			if b == nil {
				b = &strings.Builder{}
				buf[key] = b
			}
			if b.Len() < 1<<20 {
				b.WriteString(e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				if e.Action == "fail" {
					failedAny = true
				}
				continue
			}
			switch e.Action {
			case "pass":
				c.passed++
			case "fail":
				c.failed++
				if b := buf[key]; b != nil {
					fmt.Fprint(w, b.String())
				}
			case "skip":
				c.skipped++
			}
			delete(buf, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(w, "testsummary: reading go test output:", err)
		failedAny = true
	}
	return c, failedAny
}
