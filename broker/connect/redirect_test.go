package connect

import (
	"errors"
	"slices"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
)

func testApp() *model.App {
	return &model.App{
		ID:                  "app_test",
		AllowedDomains:      []string{"app.example.com", "Example.ORG."},
		AllowedRedirectURIs: []string{"http://127.0.0.1:8765/callback", "https://exact.example.net/cb?x=1"},
	}
}

// securityRefusedRedirects is the list of redirect URLs that docs/security.md says are refused
// for an app whose allowed domain is app.example.com; the fuzzer starts from
// it too.
var securityRefusedRedirects = []string{
	"https://app.example.com.evil.com/cb",
	"https://evilapp.example.com/cb",
	"https://app.example.com@evil.com/cb",
	"//evil.com/cb",
	"javascript:alert(1)//app.example.com",
	"http://app.example.com/cb",
	"https://app.example.com/cb#x",
	"https://app.example.com/cb?code=x&state=y",
}

func TestValidateRedirectURL(t *testing.T) {
	app := testApp()
	accepted := []string{
		"https://app.example.com/cb",
		"https://app.example.com",
		"https://APP.example.com/cb",
		"https://app.example.com./cb",
		"https://a.b.app.example.com/cb?tab=1&x=y",
		"https://app.example.com:8443/cb",
		"https://example.org/done",
		"https://www.example.org/done",
		"http://127.0.0.1:8765/callback",
		"https://exact.example.net/cb?x=1",
	}
	for _, raw := range accepted {
		t.Run("ok "+raw, func(t *testing.T) {
			if err := ValidateRedirectURL(app, raw); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
	refused := slices.Concat(securityRefusedRedirects, []string{ // and more of the same families:
		"",
		"app.example.com/cb",
		"/cb",
		"https:app.example.com/cb",
		"https:/app.example.com/cb",
		"https:///app.example.com/cb",
		"https://evil.com\\@app.example.com/cb",
		"https://evil.com\\.app.example.com/cb",
		"https://app.example.com/cb\\..\\",
		"https://app.example.com\t/cb",
		"https://app.example.com\n.evil.com/cb",
		"https://app.example.com /cb",
		"https://user:pw@app.example.com/cb",
		"https://:@app.example.com/cb",
		"https://evil.com#@app.example.com/cb",
		"https://evil.com?@app.example.com/cb",
		"https://app.example.com/cb#",
		"https://app.example.com%2eevil.com/cb",
		"https://app%2eexample.com/cb",
		"https://app.example.com..evil/cb",
		"https://[::1]/cb",
		"https://127.0.0.1/cb",
		"http://localhost/cb", // loopback, but not allowed for this app
		"http://evil.com/cb",
		"ftp://app.example.com/cb",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"https://app.example.com/cb?state=",
		"https://app.example.com/cb?ISS=x",
		"https://app.example.com/cb?connectionId=con_1",
		"https://app.example.com/cb?error=reject",
		"https://app.example.com/cb?error_description=x",
		"https://app.example.com/cb?appState=x",
		"https://app.example.com/cb?a=1;code=2",
		"https://app.example.com/cb?%zz",
		"https://xn--pple-43d.example.com.evil/cb",
		"https://аpp.example.com/cb", // Cyrillic a
		"https://app.example.com:99999/cb",
		"https://app.example.com:80x/cb",
		"https://-app.example.com/cb",
		"http://127.0.0.1:8765/callback?x=1", // not the exact URI
		"https://exact.example.net/cb",       // not the exact URI
		"https://exact.example.net/cb?x=1#f",
		"https://app.example.com/" + string(make([]byte, MaxRedirectURLLen)),
	})
	for _, raw := range refused {
		t.Run("refused "+raw, func(t *testing.T) {
			err := ValidateRedirectURL(app, raw)
			if err == nil {
				t.Fatal("accepted")
			}
			var me *model.Error
			if !errors.As(err, &me) || me.Code != model.CodeInvalidArgument || me.Field != "redirectUrl" {
				t.Fatalf("want invalid_argument on redirectUrl, got %#v", err)
			}
		})
	}
}

func TestValidateRedirectURLIgnoresUnsafeAllowedDomains(t *testing.T) {
	// Entries that should never have been stored still never widen the match.
	app := &model.App{AllowedDomains: []string{"*", "*.example.com", "https://example.com", "", "."}}
	for _, raw := range []string{"https://evil.com/cb", "https://a.example.com/cb", "https://example.com/cb"} {
		if err := ValidateRedirectURL(app, raw); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

func TestValidateRedirectURLLocalhost(t *testing.T) {
	app := &model.App{AllowedDomains: []string{"localhost"}}
	for _, raw := range []string{"http://localhost:3000/cb", "https://localhost/cb", "http://LOCALHOST/cb"} {
		if err := ValidateRedirectURL(app, raw); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
	if err := ValidateRedirectURL(app, "http://localhost.evil.com/cb"); err == nil {
		t.Error("http://localhost.evil.com accepted")
	}
}
