package config

import (
	"errors"
	"testing"
)

func TestLookupWithFileConvention(t *testing.T) {
	env := map[string]string{
		"DIRECT":          "from-env",
		"DIRECT_FILE":     "/secrets/ignored",
		"SECRET_FILE":     "/secrets/token",
		"MISSING_FILE":    "/secrets/none",
		"EMPTY_PATH_FILE": "",
	}
	files := map[string]string{"/secrets/token": "s3cret-value\n", "/secrets/ignored": "nope"}
	lookup := LookupWith(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		})
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"DIRECT", "from-env", true},     // the variable itself wins over _FILE
		{"SECRET", "s3cret-value", true}, // file contents, trailing newline dropped
		{"MISSING", "", false},           // unreadable file: unset, so "required" names the key
		{"EMPTY_PATH", "", false},
		{"NOTHING", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := lookup(c.name)
			if got != c.want || ok != c.ok {
				t.Fatalf("lookup(%s) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
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
