package broker_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every test docs/security.md names as the proof of a defence exists in the
// package it names: a renamed or deleted test cannot leave a defence
// claimed but unproven.
func TestSecurityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	// Proof lists are bullets of backticked names: `pkg: TestA`, `TestB`;
	// a name without a package belongs to the last one named.
	tick := regexp.MustCompile("`([^`]+)`")
	n := 0
	for _, block := range strings.Split(string(doc), "\n- ") {
		if !strings.Contains(block, ": Test") && !strings.Contains(block, ": Fuzz") {
			continue
		}
		block, _, _ = strings.Cut(block, "\n\n")
		pkg := ""
		for _, m := range tick.FindAllStringSubmatch(block, -1) {
			name := m[1]
			if p, rest, ok := strings.Cut(name, ": "); ok {
				pkg, name = p, rest
			}
			if pkg == "" || !regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`).MatchString(name) {
				continue
			}
			n++
			if !defined(t, pkgDir(pkg), name) {
				t.Errorf("docs/security.md names %s in %s, which has no such test", name, pkg)
			}
		}
	}
	if n < 50 {
		t.Fatalf("found only %d test names in docs/security.md; has its format changed?", n)
	}
}

// pkgDir maps a package as docs/security.md names it to its directory.
func pkgDir(pkg string) string {
	switch pkg {
	case "storetest":
		return "../broker/store/storetest"
	}
	return filepath.Join("..", pkg)
}

// defined reports whether a Go file of dir declares func name, or (for a
// conformance case) names it as a case string.
func defined(t *testing.T, dir, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("docs/security.md names package directory %s, which has no Go files", dir)
		return true
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if strings.Contains(s, "func "+name+"(") || strings.Contains(s, `"`+name+`"`) {
			return true
		}
	}
	return false
}
