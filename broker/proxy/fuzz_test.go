package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzUpstreamPath: whatever the caller's path, the upstream URL is on the
// provider's origin under its base path, or the path is refused.
func FuzzUpstreamPath(f *testing.F) {
	for _, s := range []string{
		"/calendars/primary/events", "/../../admin", "/%2e%2e/%2e%2e/admin", "/v3/..%2F..%2Fadmin",
		"//evil.com/x", "/@evil.com/x", "/x%00y", "/a%5c..%5cb", "/..;/admin", "/%252e%252e/",
		"/a/b/", "", "/", "/http://evil.com", "/%E2%80%AE", "/a%2", "/a?b#c",
	} {
		f.Add(s)
	}
	bases := []*upstreamBase{
		mustBase(f, "https://api.example.com/calendar/v3"),
		mustBase(f, "https://api.example.com"),
		mustBase(f, "http://127.0.0.1:8443/a%20b/"),
	}
	f.Fuzz(func(t *testing.T, suffix string) {
		for _, b := range bases {
			path, raw, err := buildPath(b, suffix)
			if err != nil {
				continue
			}
			u := &url.URL{Scheme: b.scheme, Host: b.host, Path: path, RawPath: raw}
			if raw == path {
				u.RawPath = ""
			}
			if !(&upstreamBase{scheme: b.scheme, host: b.host, rawPrefix: b.rawPrefix}).contains(&http.Request{URL: u}) {
				t.Fatalf("%q + %q left the base: %s", b.rawPrefix, suffix, u)
			}
			// What the provider parses is the same origin, and its
			// cleaned path is still under the base.
			back, err := url.Parse(u.String())
			if err != nil {
				t.Fatalf("%q + %q gave an unparsable URL %q: %v", b.rawPrefix, suffix, u, err)
			}
			if back.Host != b.host || back.Scheme != b.scheme || !strings.HasPrefix(back.EscapedPath(), b.rawPrefix) {
				t.Fatalf("%q + %q re-parses to %s", b.rawPrefix, suffix, back)
			}
			for _, seg := range strings.Split(strings.TrimPrefix(back.Path, b.path+"/"), "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("%q + %q has a dot segment: %q", b.rawPrefix, suffix, back.Path)
				}
			}
		}
	})
}

// FuzzFilterHeaders: no caller credential, forwarding or hop-by-hop header
// survives the filter, whatever its spelling, nor one named in Connection.
func FuzzFilterHeaders(f *testing.F) {
	for _, s := range []string{
		"Authorization", "X_Forwarded_For", "x-forwarded-host", "X-FORWARDED-PROTO", "Forwarded",
		"Cookie", "X-Api-Key", "x_api_key", "Proxy-Authorization", "Upgrade", "Connection", "Te",
		"Accept", "Cal-Api-Version", "X-Forwarded-", "X-Real-IP",
	} {
		f.Add(s, "X-Custom, "+s)
	}
	f.Fuzz(func(t *testing.T, name, conn string) {
		h := http.Header{}
		h[name] = []string{"v"}
		h[http.CanonicalHeaderKey(name)] = []string{"v"}
		h["X-Custom"] = []string{"v"}
		filterHeaders(h, []string{conn}, []string{"Cal-Api-Version"})
		for k := range h {
			n := fold(k)
			if strings.HasPrefix(n, "x-forwarded-") || n == "cal-api-version" {
				t.Fatalf("%q survived", k)
			}
			for _, d := range droppedHeaders {
				if n == d {
					t.Fatalf("%q survived", k)
				}
			}
			for _, tok := range strings.Split(conn, ",") {
				if tok = fold(strings.TrimSpace(tok)); tok != "" && n == tok {
					t.Fatalf("%q named in Connection survived", k)
				}
			}
		}
	})
}

// fold is how HTTP compares header names (ASCII tokens, case-insensitive),
// with '_' taken as '-'. It works on bytes, as header names are bytes: a
// rune-wise fold would turn every invalid UTF-8 byte into U+FFFD and call
// different names equal.
func fold(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '_':
			b[i] = '-'
		}
	}
	return string(b)
}
