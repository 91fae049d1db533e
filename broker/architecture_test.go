package broker_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/oauthbroker/broker"

// The import list of docs/architecture.md is what go list says: every
// package of the module, and exactly the module's packages each imports
// (test files aside). A new package or a new import arrow goes into the
// document in the same change.
func TestArchitectureImports(t *testing.T) {
	doc, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := parseImportBlock(t, string(doc))

	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}", "./...")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	actual := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, "|")
		var own []string
		for _, imp := range strings.Fields(imps) {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				own = append(own, rel)
			}
		}
		slices.Sort(own)
		actual[strings.TrimPrefix(pkg, module+"/")] = own
	}

	for pkg, imps := range actual {
		doc, ok := documented[pkg]
		if !ok {
			t.Errorf("docs/architecture.md: package %s is missing; add the line\n\t%s → %s", pkg, pkg, strings.Join(orNone(imps), ", "))
			continue
		}
		for _, imp := range imps {
			if !slices.Contains(doc, imp) {
				t.Errorf("docs/architecture.md: %s imports %s, which the document does not say", pkg, imp)
			}
		}
		for _, imp := range doc {
			if !slices.Contains(imps, imp) {
				t.Errorf("docs/architecture.md: %s → %s does not exist", pkg, imp)
			}
		}
	}
	for pkg := range documented {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("docs/architecture.md lists %s, which is not a package", pkg)
		}
	}
	// Nothing but the CLI, the load harness and examples imports the root
	// package, and nothing imports the CLI.
	for pkg, imps := range actual {
		for _, imp := range imps {
			if (imp == "broker" || strings.HasPrefix(imp, "cmd/")) && !strings.HasPrefix(pkg, "cmd/") && pkg != "bench" && !strings.HasPrefix(pkg, "examples/") {
				t.Errorf("%s imports %s; nothing may import the root package or cmd", pkg, imp)
			}
		}
	}
}

// parseImportBlock reads the ```imports block: one "pkg → a, b" line per
// package, "—" for none.
func parseImportBlock(t *testing.T, doc string) map[string][]string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "```imports\n")
	if !ok {
		t.Fatal("docs/architecture.md has no ```imports block")
	}
	block, _, _ := strings.Cut(rest, "```")
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		pkg, imps, ok := strings.Cut(line, "→")
		if !ok {
			t.Fatalf("docs/architecture.md: %q is not \"package → imports\"", line)
		}
		pkg = strings.TrimSpace(pkg)
		if _, dup := out[pkg]; dup {
			t.Errorf("docs/architecture.md lists %s twice", pkg)
		}
		var list []string
		for _, imp := range strings.Split(imps, ",") {
			if imp = strings.TrimSpace(imp); imp != "" && imp != "—" {
				list = append(list, imp)
			}
		}
		out[pkg] = list
	}
	return out
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"—"}
	}
	return s
}
