package broker_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// What an end user types into the hosted page never leaves the process:
// a wrong password, a right one the provider could not check (502, logged
// at warn), and the right one that connects and then reads the calendar
// through the CalDAV adapter appear in no log line (debug, text and JSON),
// span or metric, and never in the page's URL or a redirect.
func TestHostedPagePasswordsStayInside(t *testing.T) {
	const (
		wrong = "SENTINELwrongPasswordXXXX"
		right = "SENTINELrightPasswordXXXX"
	)
	dav := caldavtest.NewServer(t, "ada@example.com", right)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := testConfig(t, func(c *config.Config) {
		c.Server.PublicURL = base
		c.Server.AllowInsecureLoopback = true
		c.Log = config.Log{Level: "debug", Format: "json"}
		c.Providers = map[string]providers.Spec{"caldav": {APIBaseURL: dav.URL + "/"}}
	})
	capt := serveCapturing(t, cfg, ln)

	const redirect = "http://localhost:9/done"
	created := send(t, base, "POST", "/v1/apps", cfg.Security.AdminToken, fmt.Sprintf(`{"app":{"name":"Booking","allowedRedirectUris":[%q]}}`, redirect))
	var app struct{ ClientSecret string }
	if created.code != 201 || json.Unmarshal([]byte(created.body), &app) != nil {
		t.Fatalf("create app: %d %s", created.code, created.body)
	}
	key := "key:" + app.ClientSecret
	started := send(t, base, "POST", "/v1/connect/sessions", key, fmt.Sprintf(`{"scheduleId":"s1","redirectUrl":%q,"providers":["caldav"]}`, redirect))
	var sess struct{ ConnectURL string }
	if started.code != 200 || json.Unmarshal([]byte(started.body), &sess) != nil {
		t.Fatalf("connect session: %d %s", started.code, started.body)
	}
	br := newBrowser(t)
	var seen []string // every URL the browser was sent to
	br.c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		seen = append(seen, r.URL.String())
		br.last = r.URL
		return http.ErrUseLastResponse
	}
	_, body, _ := br.do("GET", sess.ConnectURL+"?provider=caldav", nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form:\n%s", body)
	}
	post := func(pw string) (int, string) {
		code, body, _ := br.do("POST", sess.ConnectURL, url.Values{"csrf": {m[1]}, "provider": {"caldav"},
			"username": {"ada@example.com"}, "password": {pw}})
		return code, body
	}
	if code, body := post(wrong); code != 400 || strings.Contains(body, wrong) {
		t.Fatalf("wrong password: %d (echoed: %v)", code, strings.Contains(body, wrong))
	}
	dav.FailNext(http.StatusServiceUnavailable)
	if code, body := post(right); code != http.StatusBadGateway || strings.Contains(body, right) {
		t.Fatalf("unreachable provider: %d (echoed: %v)", code, strings.Contains(body, right))
	}
	if code, _ := post(right); code != http.StatusSeeOther || br.last == nil || br.last.Query().Get("connectionId") == "" {
		t.Fatalf("right password: %d at %v", code, br.last)
	}
	now := time.Now()
	if a := send(t, base, "GET", "/v1/events?scheduleId=s1&from="+now.Add(-time.Hour).UTC().Format(time.RFC3339)+
		"&to="+now.Add(time.Hour).UTC().Format(time.RFC3339), key, ""); a.code != 200 {
		t.Fatalf("events: %d %s", a.code, a.body)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("ada@example.com:" + right))
	assertNoSecrets(t, []output{
		{"text log", capt.text.String()}, {"JSON log", capt.js.String()}, {"spans", capt.spanText()},
		{"/metrics", capt.metrics(t)}, {"URLs", strings.Join(append(seen, sess.ConnectURL), "\n")},
	}, map[string]string{"wrong password": wrong, "right password": right, "Basic credential": basic})
	if !strings.Contains(capt.js.String(), "credentials test failed") {
		t.Errorf("the provider failure was not logged (the capture would prove nothing):\n%s", capt.js.String())
	}
}
