package proxy

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/providers"
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

// testAllow is the allow set of a provider with the defaults, one
// addition and one static header of its own.
func testAllow() allowSet {
	return newAllowSet(append(slices.Clone(providers.DefaultRequestHeaders), "Prefer", "Cal-Api-Version"), []string{"Cal-Api-Version"})
}

// FuzzFilterHeaders: only allowed headers survive the filter, whatever the
// caller sends: never a credential, forwarding, rewrite or hop-by-hop
// header in any spelling, nor the broker's own, nor one named in Connection.
func FuzzFilterHeaders(f *testing.F) {
	for _, s := range []string{
		"Authorization", "X_Forwarded_For", "x-forwarded-host", "X-FORWARDED-PROTO", "Forwarded",
		"Cookie", "X-Api-Key", "x_api_key", "Proxy-Authorization", "Upgrade", "Connection", "Te",
		"Accept", "Cal-Api-Version", "X-Forwarded-", "X-Real-IP", "X-Original-URL", "X-Rewrite-Url",
		"X-Http-Method-Override", "Client-Ip", "True-Client-IP", "Via", "Base-Url-Override", "Depth", "Prefer",
	} {
		f.Add(s, "X-Custom, "+s)
	}
	allowed := testAllow()
	f.Fuzz(func(t *testing.T, name, conn string) {
		h := http.Header{}
		h[name] = []string{"v"}
		h[http.CanonicalHeaderKey(name)] = []string{"v"}
		h["X-Custom"] = []string{"v"}
		filterHeaders(h, []string{conn}, allowed)
		for k := range h {
			if _, ok := allowed[k]; !ok || providers.NeverForwarded(k) || k == "Cal-Api-Version" {
				t.Fatalf("%q survived", k)
			}
			n := fold(k)
			for _, tok := range strings.Split(conn, ",") {
				if tok = fold(strings.TrimSpace(tok)); tok != "" && n == tok {
					t.Fatalf("%q named in Connection survived", k)
				}
			}
		}
	})
}

// FuzzDestination: a Destination the proxy accepts always becomes a URL on
// the provider's origin, under its base path, with no dot segment, for the
// same connection; anything else is refused.
func FuzzDestination(f *testing.F) {
	for _, s := range []string{
		"https://broker.example.com/proxy/con_1/cal/a.ics", "/proxy/con_1/cal/b.ics", "/dav/cal/c.ics",
		"https://dav.example.com/dav/cal/x", "https://broker.example.com/proxy/con_2/x", "/proxy/con_1/../../etc",
		"/dav/%2e%2e/x", "//evil.com/dav/x", "https://BROKER.example.com./proxy/con_1/x", "/dav/cal/x?y#z",
		"https://broker.example.com@evil.com/proxy/con_1/x", "/dav/..%2f..%2fadmin", "/dav/%ef%bc%8e%ef%bc%8e/x",
	} {
		f.Add(s)
	}
	b, err := parseBase("https://dav.example.com/dav")
	if err != nil {
		f.Fatal(err)
	}
	p := mustNew(f, Options{Creds: newFakeCreds(), PublicURL: "https://broker.example.com"})
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := p.destination(raw, "con_1", b)
		if err != nil {
			return
		}
		u, perr := url.Parse(out)
		if perr != nil || u.Scheme != "https" || u.Host != "dav.example.com" || u.User != nil || u.RawQuery != "" ||
			!strings.HasPrefix(u.EscapedPath(), "/dav/") {
			t.Fatalf("Destination %q became %q, outside the base", raw, out)
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Destination %q became %q, with a dot segment", raw, out)
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
