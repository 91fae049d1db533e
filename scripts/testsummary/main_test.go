package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"quiet\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestB/sub"}`,
		`{"Action":"output","Package":"p","Test":"TestB/sub","Output":"    b_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB/sub"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`{"ImportPath":"r","Action":"build-output","Output":"r/y.go:2: undefined: z\n"}`,
		`{"ImportPath":"r","Action":"build-fail"}`,
		`# q`,
		`q/x.go:1: syntax error`,
	}, "\n")
	var out strings.Builder
	c, failed := summarize(strings.NewReader(in), &out)
	if c != (counts{passed: 1, failed: 2, skipped: 1}) || !failed {
		t.Fatalf("counts %+v failed %v", c, failed)
	}
	got := out.String()
	for _, want := range []string{"boom", "FAIL\tp", "syntax error", "undefined: z"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet") {
		t.Errorf("a passing test's output was printed:\n%s", got)
	}
}
