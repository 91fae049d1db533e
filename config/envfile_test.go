package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupWithFileConvention(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	ignored := filepath.Join(dir, "ignored")
	os.WriteFile(token, []byte("s3cret-value\n"), 0o600)
	os.WriteFile(ignored, []byte("nope"), 0o600)
	env := map[string]string{
		"DIRECT":          "from-env",
		"DIRECT_FILE":     ignored,
		"SECRET_FILE":     token,
		"MISSING_FILE":    filepath.Join(dir, "none"),
		"EMPTY_PATH_FILE": "",
	}
	lookup := LookupWith(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, os.ReadFile)
	cases := []struct {
		name, want, err string
		ok              bool
	}{
		{"DIRECT", "from-env", "", true},     // the variable itself wins over _FILE
		{"SECRET", "s3cret-value", "", true}, // file contents, trailing newline dropped
		{"MISSING", "", `MISSING_FILE names "` + env["MISSING_FILE"] + `", which cannot be read: no such file or directory`, false},
		{"EMPTY_PATH", "", "", false},
		{"NOTHING", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := lookup(c.name)
			if got != c.want || ok != c.ok || (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) {
				t.Fatalf("lookup(%s) = %q, %v, %v; want %q, %v, %q", c.name, got, ok, err, c.want, c.ok, c.err)
			}
		})
	}
	cfg, err := Parse([]byte("security:\n  adminToken: ${SECRET}\n"), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Security.AdminToken != "s3cret-value" {
		t.Fatalf("adminToken %q", cfg.Security.AdminToken)
	}
}

// A _FILE naming a missing file is an error at the key that reads it,
// naming the variable and the file; it does not quietly leave the secret
// empty (which outside production would mean a development key).
func TestMissingSecretFileIsAnErrorThatNamesIt(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "admin_token")
	lookup := LookupWith(func(k string) (string, bool) {
		if k == "BROKER_ADMIN_TOKEN_FILE" {
			return missing, true
		}
		return "", false
	}, os.ReadFile)
	cfg, err := Parse([]byte("security:\n  adminToken: \"${BROKER_ADMIN_TOKEN:-}\"\nlog: {level: loud}\n"), lookup)
	if cfg == nil {
		t.Fatalf("no config to check further: %v", err)
	}
	if cfg.Security.AdminToken != "" {
		t.Fatalf("the unexpanded reference became the token: %q", cfg.Security.AdminToken)
	}
	assertErrors(t, Check(cfg, err),
		"log.level: must be debug, info, warn or error",
		`security.adminToken: BROKER_ADMIN_TOKEN_FILE names "`+missing+`", which cannot be read: no such file or directory`,
	)
	if !strings.Contains(err.Error(), missing) {
		t.Fatalf("the file is not named: %v", err)
	}
}
