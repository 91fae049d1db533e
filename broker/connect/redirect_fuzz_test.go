package connect

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzValidateRedirectURL checks the one property that matters: whatever is
// accepted sends the browser to an allowed host, over https, or over plain
// http to a loopback host, with nothing that could be mistaken for the
// flow's outcome. The check is written independently of the validator.
func FuzzValidateRedirectURL(f *testing.F) {
	for _, s := range append([]string{
		"https://app.example.com/cb",
		"https://a.app.example.com/cb?x=1",
		"http://127.0.0.1:8765/callback",
		"https://evil.com\\@app.example.com/",
	}, securityRefusedRedirects...) {
		f.Add(s)
	}
	app := testApp()
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateRedirectURL(app, raw) != nil {
			return
		}
		if raw == "http://127.0.0.1:8765/callback" || raw == "https://exact.example.net/cb?x=1" {
			return // the app's exact redirect URIs
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted an unparsable URL %q", raw)
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		okHost := host == "app.example.com" || strings.HasSuffix(host, ".app.example.com") ||
			host == "example.org" || strings.HasSuffix(host, ".example.org")
		if !okHost {
			t.Fatalf("accepted %q with host %q", raw, host)
		}
		if u.Scheme != "https" {
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
		if u.User != nil || u.Fragment != "" || strings.ContainsAny(raw, "\\# \t\r\n") {
			t.Fatalf("accepted %q with userinfo, fragment or ambiguous characters", raw)
		}
		for k := range u.Query() {
			for _, r := range reservedParams {
				if strings.EqualFold(k, r) {
					t.Fatalf("accepted %q with reserved parameter %q", raw, k)
				}
			}
		}
	})
}
