package broker_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// The browser test (docs/demo.md, "In a real browser"): Debian's Chromium,
// headless, driven over the DevTools protocol through the hosted connect
// page, the demo provider and a CalDAV credentials form (checked by go-webdav's CalDAV server), against the
// broker's real HTTP stack. scripts/test installs Chromium when it is
// missing (scripts/chromium.sh) and points BROKER_CHROMIUM at it.

// chromiumPath is the browser to drive: $BROKER_CHROMIUM, else the first of
// the usual names on PATH. Without one the test skips, except under
// CI=true, where a missing browser is a failure rather than a silent skip.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BROKER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium: install Debian's chromium package (scripts/test does) or set BROKER_CHROMIUM"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifactDir is where the screenshots go: $BROKER_ARTIFACTS/browser when
// set (CI keeps that directory), else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if a := os.Getenv("BROKER_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "browser")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startChromium starts one headless browser for the whole test; each case
// gets its own browser context (cookies included) in a tab of it.
func startChromium(t *testing.T, bin string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		// The sandbox needs user namespaces or a setuid helper, which
		// containers and root (CI) lack; the browser only loads this
		// test's loopback pages.
		chromedp.NoSandbox,
		chromedp.WindowSize(760, 640),
		chromedp.Flag("lang", "en-US"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

// tab is one browser context with one tab, where screenshots are saved.
type tab struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int
}

func newTab(t *testing.T, browser context.Context, dir string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &tab{t: t, ctx: ctx, dir: dir}
}

// do runs the steps with a deadline of its own (the tab outlives it).
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

// submit clicks sel and returns the status of the page it led to (the last
// of its redirects).
func (b *tab) submit(sel string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: clicking %s: %v", sel, err)
	}
	return resp.Status
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v (at %s)", sel, err, b.location())
	}
	return strings.TrimSpace(s)
}

func (b *tab) value(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: value of %s: %v", sel, err)
	}
	return s
}

func (b *tab) location() *url.URL {
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		return &url.URL{Path: "(unknown: " + err.Error() + ")"}
	}
	u, _ := url.Parse(s)
	return u
}

// screenshot saves the whole page as NN-name.png in the artifact directory.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.shot++
	path := filepath.Join(b.dir, b.t.Name()[strings.LastIndex(b.t.Name(), "/")+1:]+"-"+string(rune('0'+b.shot))+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", path)
}

// connectURL asks for a hosted connect page as the demo app, landing on the
// demo app's page.
func (d *demoBroker) connectURL(t *testing.T, schedule string) string {
	t.Helper()
	var out struct{ ConnectURL string }
	if code := d.call(t, "POST", "/v1/connect/sessions", map[string]any{"scheduleId": schedule, "redirectUrl": d.App.RedirectURL}, &out); code != 201 && code != 200 || out.ConnectURL == "" {
		t.Fatalf("connect/sessions: %d %+v", code, out)
	}
	return out.ConnectURL
}

func TestInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test is slow; it runs without -short")
	}
	bin := chromiumPath(t)
	dav := caldavtest.NewServer(t, "ada@example.com", "right-horse-battery") // go-webdav's CalDAV server
	d := newDemoBroker(t, func(c *config.Config) {
		c.Server.AllowInsecureLoopback = true // the CalDAV fake is plain http on loopback
		c.Security.RateLimits.Browser = config.Rate{Per: 1e9, Events: 1000}
		c.Providers = map[string]providers.Spec{"caldav": {APIBaseURL: dav.URL + "/"}}
	})
	dir := artifactDir(t)
	browser := startChromium(t, bin)

	// landed checks the demo app's landing page and returns its query.
	landed := func(b *tab) url.Values {
		t.Helper()
		u := b.location()
		if u.Host != strings.TrimPrefix(d.URL, "http://") || u.Path != "/demo/app" {
			t.Fatalf("landed on %s, not the demo app", u)
		}
		return u.Query()
	}
	connection := func(id string) (status, provider, schedule string) {
		t.Helper()
		var c struct{ Status, ProviderID, ScheduleID string }
		if code := d.call(t, "GET", "/v1/connections/"+id, nil, &c); code != 200 {
			t.Fatalf("connection %s: %d", id, code)
		}
		return c.Status, c.ProviderID, c.ScheduleID
	}

	t.Run("Allow", func(t *testing.T) {
		b := newTab(t, browser, dir)
		b.do(chromedp.Navigate(d.connectURL(t, "browser-allow")), chromedp.WaitVisible(chromedp.CSS(`button[value="demo"]`)))
		if got := b.text("#app-name"); got != "Demo app" {
			t.Errorf("the page names %q, not the app", got)
		}
		b.screenshot("connect-page")
		if code := b.submit(`button[value="demo"]`); code != 200 {
			t.Fatalf("demo authorize page: %d", code)
		}
		b.do(chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
		if p := b.location().Path; p != "/demo/authorize" {
			t.Fatalf("at %s, not the demo's authorize page", p)
		}
		b.screenshot("demo-authorize")
		if code := b.submit(`button[value="allow"]`); code != 200 {
			t.Fatalf("after Allow: %d", code)
		}
		q := landed(b)
		id := q.Get("connectionId")
		if !strings.HasPrefix(id, "con_") || b.text("#connectionId") != id {
			t.Fatalf("landing: query %v, page shows %q", q, b.text("#connectionId"))
		}
		b.screenshot("connected")
		if st, prov, sch := connection(id); st != "CONNECTED" || prov != "demo" || sch != "browser-allow" {
			t.Fatalf("the API has %s: %s %s %s", id, st, prov, sch)
		}
	})

	t.Run("Deny", func(t *testing.T) {
		b := newTab(t, browser, dir)
		b.do(chromedp.Navigate(d.connectURL(t, "browser-deny")), chromedp.WaitVisible(chromedp.CSS(`button[value="demo"]`)))
		b.submit(`button[value="demo"]`)
		b.do(chromedp.WaitVisible(chromedp.CSS(`button[value="deny"]`)))
		b.submit(`button[value="deny"]`)
		q := landed(b)
		if q.Get("error") != "reject" || q.Has("connectionId") || b.text("#error") != "reject" {
			t.Fatalf("after Deny: query %v", q)
		}
		b.screenshot("denied")
		var list struct{ Connections []struct{ ID string } }
		if code := d.call(t, "GET", "/v1/connections?scheduleId=browser-deny", nil, &list); code != 200 || len(list.Connections) != 0 {
			t.Fatalf("Deny made a connection: %d %+v", code, list)
		}
	})

	t.Run("CalDAV", func(t *testing.T) {
		b := newTab(t, browser, dir)
		b.do(chromedp.Navigate(d.connectURL(t, "browser-caldav")), chromedp.WaitVisible(chromedp.CSS(`a[href$="provider=caldav"]`)))
		b.submit(`a[href$="provider=caldav"]`)
		b.do(chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "ada@example.com"),
			chromedp.SendKeys(chromedp.ID("password"), "wrong-password-123"))
		b.screenshot("credentials-form")
		if code := b.submit(`button[type="submit"]`); code != 400 {
			t.Fatalf("wrong password: %d, want 400", code)
		}
		b.do(chromedp.WaitVisible(chromedp.ID("form-error")))
		if msg := b.text("#form-error"); !strings.Contains(msg, "did not accept this username and password") {
			t.Errorf("the page says %q", msg)
		}
		if u, p := b.value("#username"), b.value("#password"); u != "ada@example.com" || p != "" {
			t.Errorf("form after a wrong password: username %q, password %q (want kept, empty)", u, p)
		}
		b.screenshot("wrong-password")
		b.do(chromedp.SendKeys(chromedp.ID("password"), "right-horse-battery"))
		b.submit(`button[type="submit"]`)
		id := landed(b).Get("connectionId")
		if !strings.HasPrefix(id, "con_") {
			t.Fatalf("right password: no connectionId at %s", b.location())
		}
		b.screenshot("connected")
		if st, prov, sch := connection(id); st != "CONNECTED" || prov != "caldav" || sch != "browser-caldav" {
			t.Fatalf("the API has %s: %s %s %s", id, st, prov, sch)
		}
	})
}
