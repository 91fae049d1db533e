package broker_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// pageBroker is a demo broker that also offers CalDAV (checked against
// go-webdav's CalDAV server, caldavtest) and an app with a name to escape and a PNG logo.
type pageBroker struct {
	*demoBroker
	appID, secret string
	redirect      string
	dav           *caldavtest.Server
}

func newPageBroker(t *testing.T) *pageBroker {
	t.Helper()
	dav := caldavtest.NewServer(t, "ada@example.com", "right-horse-battery")
	var logo bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	_ = png.Encode(&logo, img)
	logoSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(logo.Bytes())
	}))
	t.Cleanup(logoSrv.Close)
	d := newDemoBroker(t, func(c *config.Config) {
		c.Server.AllowInsecureLoopback = true
		c.Security.RateLimits.Browser = config.Rate{Per: 1e9, Events: 1000}
		c.Providers = map[string]providers.Spec{"caldav": {APIBaseURL: dav.URL + "/"}}
	})
	pb := &pageBroker{demoBroker: d, redirect: "http://localhost:9/done?from=page", dav: dav}
	body, _ := json.Marshal(map[string]any{"app": map[string]any{"name": `Tom & Jerry <Booking>`, "logoUrl": logoSrv.URL + "/logo.png",
		"allowedRedirectUris": []string{pb.redirect}}})
	req, _ := http.NewRequest("POST", d.URL+"/v1/apps", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.Admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		App          struct{ ID string }
		ClientSecret string
	}
	if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("create app: %d", resp.StatusCode)
	}
	pb.appID, pb.secret = out.App.ID, out.ClientSecret
	return pb
}

// session asks for a connect page as the app.
func (pb *pageBroker) session(t *testing.T, body map[string]any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", pb.URL+"/v1/connect/sessions", bytes.NewReader(raw))
	req.SetBasicAuth(pb.appID, pb.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

type browser struct {
	t    *testing.T
	c    *http.Client
	last *url.URL
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		b.last = r.URL
		if r.URL.Host == "localhost:9" { // the app: not running, stop here
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) do(method, u string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = b.c.Get(u)
	} else {
		resp, err = b.c.PostForm(u, form)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestConnectPage(t *testing.T) {
	pb := newPageBroker(t)

	t.Run("request checks", func(t *testing.T) {
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"scheduleId": "s1", "redirectUrl": "https://evil.example/cb"}, "redirectUrl"},
			{map[string]any{"scheduleId": "s1", "redirectUrl": pb.redirect, "providers": []string{"google"}}, "providers[0]"},
			{map[string]any{"redirectUrl": pb.redirect}, "scheduleId"},
		} {
			code, out := pb.session(t, tc.body)
			e, _ := out["error"].(map[string]any)
			if code != 400 || e["field"] != tc.field {
				t.Errorf("%v: %d %v, want 400 on %s", tc.body, code, out, tc.field)
			}
		}
	})

	t.Run("page names the app, is strict, and is bound to its first browser", func(t *testing.T) {
		_, out := pb.session(t, map[string]any{"scheduleId": "s1", "redirectUrl": pb.redirect})
		u := out["connectUrl"].(string)
		b := newBrowser(t)
		code, body, h := b.do("GET", u, nil)
		if code != 200 {
			t.Fatalf("page: %d %s", code, body)
		}
		if !strings.Contains(body, "Tom &amp; Jerry &lt;Booking&gt;") || strings.Contains(body, "<Booking>") {
			t.Error("app name missing or not escaped")
		}
		if !strings.Contains(body, `src="data:image/png;base64,`) {
			t.Error("logo not inlined")
		}
		if !strings.Contains(body, ">Demo Calendar<") || !strings.Contains(body, ">CalDAV<") {
			t.Errorf("providers missing:\n%s", body)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "img-src data:", "form-action 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(body, "<script") || strings.Contains(body, "http://") && strings.Contains(body, "src=\"http") {
			t.Errorf("page loads or runs something: CSP %q", csp)
		}
		if code, _, _ := newBrowser(t).do("GET", u, nil); code != 400 {
			t.Errorf("another browser: %d, want 400", code)
		}
		if code, _, _ := b.do("GET", u, nil); code != 200 {
			t.Errorf("reload in the same browser: %d", code)
		}
		// A POST without the page's token, or from another site, does nothing.
		if code, _, _ := b.do("POST", u, url.Values{"provider": {"demo"}}); code != 403 {
			t.Errorf("no CSRF token: %d", code)
		}
		if code, _, _ := b.do("POST", u, url.Values{"provider": {"demo"}, "csrf": {base64.RawURLEncoding.EncodeToString(make([]byte, 32))}}); code != 403 {
			t.Errorf("wrong CSRF token: %d", code)
		}
		if code, _, _ := b.do("GET", u, nil); code != 200 {
			t.Errorf("refused posts spent the page: %d", code)
		}
	})

	t.Run("credentials: wrong password keeps the form, right one connects once", func(t *testing.T) {
		_, out := pb.session(t, map[string]any{"scheduleId": "s2", "redirectUrl": pb.redirect, "providers": []string{"caldav"}, "appState": "xyz"})
		u := out["connectUrl"].(string)
		b := newBrowser(t)
		_, body, _ := b.do("GET", u, nil)
		if strings.Contains(body, "Demo Calendar") {
			t.Error("providers filter ignored")
		}
		_, body, _ = b.do("GET", u+"?provider=caldav", nil)
		m := csrfField.FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, `type="password"`) {
			t.Fatalf("no credentials form:\n%s", body)
		}
		code, body, _ := b.do("POST", u, url.Values{"csrf": {m[1]}, "provider": {"caldav"}, "username": {"ada@example.com"}, "password": {"wrong-password-123"}})
		if code != 400 || !strings.Contains(body, "did not accept this username and password") ||
			!strings.Contains(body, `value="ada@example.com"`) || strings.Contains(body, "wrong-password-123") {
			t.Fatalf("wrong password: %d\n%s", code, body)
		}
		code, _, _ = b.do("POST", u, url.Values{"csrf": {m[1]}, "provider": {"caldav"}, "username": {"ada@example.com"}, "password": {"right-horse-battery"}})
		if code != http.StatusSeeOther || b.last == nil || b.last.Host != "localhost:9" {
			t.Fatalf("right password: %d, at %v", code, b.last)
		}
		q := b.last.Query()
		if !strings.HasPrefix(q.Get("connectionId"), "con_") || q.Get("appState") != "xyz" || q.Get("from") != "page" {
			t.Fatalf("redirect %s", b.last)
		}
		if code, _, _ := b.do("GET", u, nil); code != 400 {
			t.Errorf("page usable after connecting: %d", code)
		}
	})

	t.Run("OAuth: the choice runs the provider's flow", func(t *testing.T) {
		_, out := pb.session(t, map[string]any{"scheduleId": "s3", "redirectUrl": pb.redirect})
		u := out["connectUrl"].(string)
		b := newBrowser(t)
		_, body, _ := b.do("GET", u, nil)
		m := csrfField.FindStringSubmatch(body)
		code, body, _ := b.do("POST", u, url.Values{"csrf": {m[1]}, "provider": {"demo"}})
		r := demoRequest.FindStringSubmatch(body)
		if code != 200 || r == nil {
			t.Fatalf("not on the demo's authorize page: %d\n%s", code, body)
		}
		code, _, _ = b.do("POST", pb.URL+"/demo/authorize", url.Values{"request": {r[1]}, "decision": {"allow"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(b.last.Query().Get("connectionId"), "con_") {
			t.Fatalf("after Allow: %d at %v", code, b.last)
		}
		if code, _, _ := b.do("POST", u, url.Values{"csrf": {m[1]}, "provider": {"demo"}}); code != 400 {
			t.Errorf("page reused: %d", code)
		}
	})
}
