package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docRow is one row of a key table in docs/configuration.md.
var docRow = regexp.MustCompile("^\\| `([^`]+)` \\| (`[^`]*`|[^|]*[^ |]) \\|")

// derived are the keys whose default is not a value but follows another key,
// and what the document says of it; Default and Parse compute it
// (PublicURLFor).
var derived = map[string]string{"server.publicUrl": "follows `listen`"}

// documentedDefaults reads docs/configuration.md: key path → default as
// written, from the tables under each "## section" heading.
func documentedDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(s)
			continue
		}
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		path := section + "." + m[1]
		if m[1] == section { // "## demo": the key is the section
			path = section
		}
		if _, dup := out[path]; dup {
			t.Errorf("docs/configuration.md documents %s twice", path)
		}
		out[path] = m[2]
	}
	return out
}

// docs/configuration.md documents every key of Config, and the default it
// gives each is the default Parse applies: the document is checked against
// config.Default, the one place defaults live.
func TestDocumentedDefaultsAreTheDefaults(t *testing.T) {
	doc := documentedDefaults(t)
	keys := Keys()
	defaults, err := Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k == "providers" {
			continue // a map of providers: docs/providers.md, checked against the catalog
		}
		written, ok := doc[k]
		if !ok {
			t.Errorf("docs/configuration.md has no row for %s", k)
			continue
		}
		if say, ok := derived[k]; ok {
			if written != say {
				t.Errorf("%s: docs/configuration.md says %q, want %q", k, written, say)
			}
			continue
		}
		if !strings.HasPrefix(written, "`") {
			t.Errorf("%s: the documented default %s is not a value in backquotes", k, written)
			continue
		}
		written = strings.Trim(written, "`")
		cfg, err := Parse([]byte(nest(k, written)), nil)
		if err != nil {
			t.Errorf("%s: the documented default %q does not parse: %v", k, written, err)
			continue
		}
		got, want := valueAt(cfg, k), valueAt(defaults, k)
		if !sameValue(got, want) {
			t.Errorf("%s: docs/configuration.md says %q (%v), config.Default has %v", k, written, got, want)
		}
	}
	for k := range doc {
		if !slices.Contains(keys, k) {
			t.Errorf("docs/configuration.md documents %s, which is not a key", k)
		}
	}
}

// nest writes path: value as YAML ("a.b.c" → a: {b: {c: value}}).
func nest(path, value string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, " %s\n", value)
	return b.String()
}

// valueAt is the value of a key path in c, found by the yaml tags.
func valueAt(c *Config, path string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for _, name := range strings.Split(path, ".") {
		t := v.Type()
		found := false
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			panic("config: no key " + path)
		}
	}
	return v
}

func sameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true // [] and a missing list are the same empty list
	}
	if ra, ok := a.Interface().(Rate); ok {
		return ra.String() == b.Interface().(Rate).String() // every "off" is one rate
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
