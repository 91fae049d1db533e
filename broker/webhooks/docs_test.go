package webhooks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/secrets"
)

// The Go verification function of docs/webhooks.md, compiled as it stands
// and run against a delivery signed the way the worker signs: it accepts the
// delivery (with one and with two signatures) and refuses a changed body, a
// wrong secret and a stale timestamp.
func TestDocsGoVerificationSnippet(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- snippet: verify.go -->\n```go\n"
	_, rest, ok := strings.Cut(string(doc), marker)
	snippet, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("docs/webhooks.md has no verify.go snippet")
	}
	secret, other := secrets.NewWebhookSecret(), secrets.NewWebhookSecret()
	key, _ := DecodeSecret(secret)
	otherKey, _ := DecodeSecret(other)
	body := `{"type":"webhook.test","timestamp":"2026-01-02T03:04:05Z","data":{}}`
	now, old := time.Now(), time.Now().Add(-time.Hour)
	type tc struct {
		name, secret, body, sig string
		ts                      time.Time
		ok                      bool
	}
	cases := []tc{
		{"one signature", secret, body, Sign("whk_1", now, []byte(body), key), now, true},
		{"two signatures, ours second", secret, body, Sign("whk_1", now, []byte(body), otherKey, key), now, true},
		{"changed body", secret, body + " ", Sign("whk_1", now, []byte(body), key), now, false},
		{"wrong secret", other, body, Sign("whk_1", now, []byte(body), key), now, false},
		{"an hour old", secret, body, Sign("whk_1", old, []byte(body), key), old, false},
	}
	var main strings.Builder
	main.WriteString("package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() {\n\tfail := false\n")
	for _, c := range cases {
		fmt.Fprintf(&main, "\t{\n\t\th := http.Header{}\n\t\th.Set(\"webhook-id\", \"whk_1\")\n\t\th.Set(\"webhook-timestamp\", %q)\n"+
			"\t\th.Set(\"webhook-signature\", %q)\n\t\terr := Verify(%q, h, []byte(%q))\n"+
			"\t\tif (err == nil) != %v {\n\t\t\tfmt.Println(%q, err)\n\t\t\tfail = true\n\t\t}\n\t}\n",
			strconv.FormatInt(c.ts.Unix(), 10), c.sig, c.secret, c.body, c.ok, c.name)
	}
	main.WriteString("\tif fail {\n\t\tos.Exit(1)\n\t}\n\tfmt.Println(\"ok\")\n}\n")
	dir := t.TempDir()
	for name, src := range map[string]string{"verify.go": snippet, "main.go": main.String(), "go.mod": "module snippet\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("the documented Verify disagrees (%v):\n%s", err, out)
	}
}
