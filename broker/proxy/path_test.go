package proxy

import (
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
)

func mustBase(t testing.TB, s string) *upstreamBase {
	t.Helper()
	b, err := parseBase(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildPath(t *testing.T) {
	b := mustBase(t, "https://api.example.com/calendar/v3/")
	cases := []struct {
		name, suffix, path, raw string // raw "" = refused
	}{
		{"empty", "", "/calendar/v3/", "/calendar/v3/"},
		{"slash", "/", "/calendar/v3/", "/calendar/v3/"},
		{"plain", "/calendars/primary/events", "/calendar/v3/calendars/primary/events", "/calendar/v3/calendars/primary/events"},
		{"trailing slash kept", "/calendars/user/", "/calendar/v3/calendars/user/", "/calendar/v3/calendars/user/"},
		{"escaped email", "/calendars/a%40b.com/events", "/calendar/v3/calendars/a@b.com/events", "/calendar/v3/calendars/a@b.com/events"},
		{"space re-escaped", "/a%20b", "/calendar/v3/a b", "/calendar/v3/a%20b"},
		{"percent decoded once", "/%252e%252e", "/calendar/v3/%2e%2e", "/calendar/v3/%252e%252e"},
		{"semicolon escaped", "/a;b", "/calendar/v3/a;b", "/calendar/v3/a%3Bb"},
		{"question mark escaped", "/a%3Fb", "/calendar/v3/a?b", "/calendar/v3/a%3Fb"},
		{"at sign stays in path", "/@evil.com/x", "/calendar/v3/@evil.com/x", "/calendar/v3/@evil.com/x"},
		{"graph key syntax", "/me/events('AAMk=')", "/calendar/v3/me/events('AAMk=')", "/calendar/v3/me/events('AAMk=')"},
		{"utf8", "/%C3%A9t%C3%A9", "/calendar/v3/été", "/calendar/v3/%C3%A9t%C3%A9"},
		{"dotdot raw", "/../../admin", "", ""},
		{"dot raw", "/./x", "", ""},
		{"dotdot encoded", "/%2e%2e/%2e%2e/admin", "", ""},
		{"dotdot mixed case", "/%2E./admin", "", ""},
		{"encoded slash", "/v3/..%2F..%2Fadmin", "", ""},
		{"encoded slash alone", "/a%2fb", "", ""},
		{"encoded backslash", "/a%5Cb", "", ""},
		{"raw backslash", "/a\\b", "", ""},
		{"NUL", "/x%00y", "", ""},
		{"control", "/x%0Ay", "", ""},
		{"DEL", "/x%7Fy", "", ""},
		{"empty first segment", "//evil.com/x", "", ""},
		{"empty middle segment", "/a//b", "", ""},
		{"dotdot path param", "/..;x/admin", "", ""},
		{"bad escape", "/a%zz", "", ""},
		{"no leading slash", "x", "", ""},
		{"dotdot trailing", "/a/..", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, raw, err := buildPath(b, tc.suffix)
			if tc.raw == "" {
				if err == nil {
					t.Fatalf("buildPath(%q) = %q, %q; want refused", tc.suffix, path, raw)
				}
				if model.CodeOf(err) != model.CodeInvalidArgument {
					t.Fatalf("code %s, want invalid_argument", model.CodeOf(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("buildPath(%q): %v", tc.suffix, err)
			}
			if path != tc.path || raw != tc.raw {
				t.Fatalf("buildPath(%q) = %q, %q; want %q, %q", tc.suffix, path, raw, tc.path, tc.raw)
			}
		})
	}
}

func TestBuildPathRootBase(t *testing.T) {
	for _, base := range []string{"https://api.example.com", "https://api.example.com/"} {
		b := mustBase(t, base)
		path, raw, err := buildPath(b, "/v1/x")
		if err != nil || path != "/v1/x" || raw != "/v1/x" {
			t.Fatalf("%s: got %q %q %v", base, path, raw, err)
		}
		if _, _, err := buildPath(b, "//evil.com/x"); err == nil {
			t.Fatalf("%s: //evil.com/x was accepted", base)
		}
	}
}

func TestParseBaseRefuses(t *testing.T) {
	for _, s := range []string{"", "ftp://x/y", "https://u:p@x/y", "https://x/y?k=v", "https://x/y#f", "/relative", "https:///nohost"} {
		if _, err := parseBase(s); err == nil {
			t.Errorf("parseBase(%q) accepted", s)
		}
	}
}

func TestSuffixAfter(t *testing.T) {
	cases := []struct {
		path, conn, suffix string
		ok                 bool
	}{
		{"/proxy/con_1/a/b", "con_1", "/a/b", true},
		{"/proxy/con_1/", "con_1", "/", true},
		{"/proxy/con_1", "con_1", "", true},
		{"/api/broker/proxy/con_1/x", "con_1", "/x", true},
		{"/proxy/con%5F1/x", "con_1", "/x", true},
		{"/proxy/con_1//evil.com/x", "con_1", "//evil.com/x", true},
		{"/proxy/con_1/../../admin", "con_1", "/../../admin", true},
		{"/proxy/con_2/x", "con_1", "", false},
		{"/other/con_1/x", "con_1", "", false},
		{"", "con_1", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			got, ok := suffixAfter(tc.path, tc.conn)
			if got != tc.suffix || ok != tc.ok {
				t.Fatalf("suffixAfter(%q, %q) = %q, %v; want %q, %v", tc.path, tc.conn, got, ok, tc.suffix, tc.ok)
			}
		})
	}
}

// Every accepted path stays under the base, whatever the base looks like.
func TestBuildPathStaysUnderBase(t *testing.T) {
	for _, base := range []string{"https://h/v1", "https://h/a%20b/c", "https://h"} {
		b := mustBase(t, base)
		for _, s := range []string{"/x", "/x/", "/%2e", "/a%2E%2E", "/.../x", "/..../x", "/~", "/a%252F"} {
			_, raw, err := buildPath(b, s)
			if err == nil && !strings.HasPrefix(raw, b.rawPrefix) {
				t.Fatalf("%s + %s = %q, not under %q", base, s, raw, b.rawPrefix)
			}
		}
	}
}
