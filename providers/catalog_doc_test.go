package providers

import (
	"os"
	"strings"
	"testing"
)

// The catalog table of docs/providers.md says what catalog.yaml holds:
// every entry, and for each the fields a reader looks up there.
func TestDocsCatalogTable(t *testing.T) {
	raw, err := os.ReadFile("../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := Catalog()
	if err != nil {
		t.Fatal(err)
	}
	field := map[string]func(Spec) string{
		"id": nil, "kind": func(s Spec) string { return string(s.Kind) },
		"authorize": func(s Spec) string { return s.AuthURL }, "token": func(s Spec) string { return s.TokenURL },
		"refresh": func(s Spec) string { return s.RefreshURL }, "revoke": func(s Spec) string { return s.RevokeURL },
		"user info": func(s Spec) string { return s.UserInfoURL }, "test": func(s Spec) string { return s.TestURL },
		"API base": func(s Spec) string { return s.APIBaseURL }, "quirks": func(s Spec) string { return s.Quirks },
		"events": func(s Spec) string { return s.Events },
	}
	var header []string
	seen := map[string]bool{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		cells := tableCells(line)
		switch {
		case len(cells) == 0:
			if header != nil {
				header = nil // the table ended
			}
			continue
		case header == nil && len(cells) > 0 && cells[0] == "id" && len(cells) == len(field):
			header = cells
			continue
		case header == nil || strings.HasPrefix(cells[0], "---"):
			continue
		}
		id := strings.Trim(cells[0], "`")
		s, ok := cat[id]
		if !ok {
			t.Errorf("docs/providers.md lists %q, which the catalog does not have", id)
			continue
		}
		seen[id] = true
		for i, col := range header[1:] {
			get, ok := field[col]
			if !ok {
				t.Fatalf("docs/providers.md: unknown column %q", col)
			}
			want := "—"
			if v := get(s); v != "" {
				want = "`" + v + "`"
			}
			if got := cells[i+1]; got != want {
				t.Errorf("docs/providers.md: %s %s is %s, catalog.yaml has %s", id, col, got, want)
			}
		}
	}
	for id := range cat {
		if !seen[id] {
			t.Errorf("docs/providers.md's catalog table misses %q", id)
		}
	}
}

// tableCells splits a Markdown table row; nil for any other line.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
		return nil
	}
	parts := strings.Split(line[1:len(line)-1], "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
