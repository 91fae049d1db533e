package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The client depends on the standard library only: a service importing it
// pulls in none of the broker's server (Gin, the store, the key ring).
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		n++
		if std != "true" && path != "github.com/oauthbroker/broker/client" {
			t.Errorf("client imports %s, which is not the standard library", path)
		}
	}
	if n < 10 {
		t.Fatalf("go list listed %d packages: %s", n, out)
	}
}
