package demo_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/oauthbroker/broker/broker/demo"
)

// env is a demo server on a real listener, reached as the broker would:
// the browser over the network, the token endpoint through x/oauth2.
type env struct {
	srv    *demo.Server
	ts     *httptest.Server
	conf   *oauth2.Config
	now    *time.Time
	client *http.Client // a browser that does not follow redirects
}

const callback = "https://broker.example/oauth/callback"

func newEnv(t *testing.T) *env {
	t.Helper()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	e := &env{now: &now}
	mux := http.NewServeMux()
	e.ts = httptest.NewServer(mux)
	t.Cleanup(e.ts.Close)
	e.srv = demo.New(demo.Options{BaseURL: e.ts.URL + demo.Path, CallbackURL: callback, Now: func() time.Time { return *e.now }})
	mux.Handle(demo.Path+"/", e.srv.Handler())
	sp := e.srv.Spec()
	e.conf = &oauth2.Config{ClientID: sp.ClientID, ClientSecret: sp.ClientSecret, RedirectURL: callback, Scopes: sp.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: sp.AuthURL, TokenURL: sp.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	e.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// authorize opens the authorize page and presses decision; it returns the
// callback query the browser is sent to.
func (e *env) authorize(t *testing.T, verifier, decision string) url.Values {
	t.Helper()
	resp, err := e.client.Get(e.conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Allow") || !strings.Contains(string(body), "Deny") {
		t.Fatalf("authorize page: %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP = %q", csp)
	}
	m := requestField.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatal("no request field on the page")
	}
	resp, err = e.client.PostForm(e.ts.URL+demo.Path+"/authorize", url.Values{"request": {m[1]}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), callback+"?") {
		t.Fatalf("decision: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("state") != "st-1" || q.Get("iss") != e.ts.URL+demo.Path {
		t.Fatalf("callback query %v", q)
	}
	return q
}

func TestAllowExchangeRefreshRotates(t *testing.T) {
	e := newEnv(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	verifier := oauth2.GenerateVerifier()
	q := e.authorize(t, verifier, "allow")
	if _, err := e.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); !isGrantError(err, "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	// The failed try spent the code, as a code is single use.
	q = e.authorize(t, verifier, "allow")
	tok, err := e.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if ttl := time.Until(tok.Expiry); ttl > demo.DefaultAccessTokenTTL+time.Minute || ttl < demo.DefaultAccessTokenTTL-time.Minute {
		t.Fatalf("access token lives %v", ttl)
	}
	if _, err := e.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isGrantError(err, "invalid_grant") {
		t.Fatalf("code reused: %v", err)
	}
	if got := e.userinfo(t, tok.AccessToken); got != http.StatusOK {
		t.Fatalf("userinfo = %d", got)
	}

	// Past its lifetime the access token stops working; the refresh
	// token gives a new pair and dies.
	*e.now = e.now.Add(demo.DefaultAccessTokenTTL + time.Second)
	if got := e.userinfo(t, tok.AccessToken); got != http.StatusUnauthorized {
		t.Fatalf("expired token: userinfo = %d", got)
	}
	tok2, err := e.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	// Presenting the old refresh token again is a replay: refused, and
	// every token of that grant is revoked.
	if _, err := e.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isGrantError(err, "invalid_grant") {
		t.Fatalf("old refresh token: %v", err)
	}
	if got := e.userinfo(t, tok2.AccessToken); got != http.StatusUnauthorized {
		t.Fatalf("after replay the new access token still works: %d", got)
	}
	if _, err := e.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); !isGrantError(err, "invalid_grant") {
		t.Fatalf("after replay the new refresh token still works: %v", err)
	}
}

func TestDenyAndRefusedRequests(t *testing.T) {
	e := newEnv(t)
	if q := e.authorize(t, oauth2.GenerateVerifier(), "deny"); q.Get("error") != "access_denied" || q.Has("code") {
		t.Fatalf("deny: %v", q)
	}
	ch := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	for name, u := range map[string]string{
		"foreign redirect": strings.Replace(e.conf.AuthCodeURL("s", ch), url.QueryEscape(callback), url.QueryEscape("https://evil.example/cb"), 1),
		"foreign client":   strings.Replace(e.conf.AuthCodeURL("s", ch), "client_id=broker-demo", "client_id=other", 1),
	} {
		resp, err := e.client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location %q, want 400 and no redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Without PKCE the error goes back to the (valid) callback.
	resp, err := e.client.Get(e.conf.AuthCodeURL("s"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Location"), "error=invalid_request") {
		t.Fatalf("no PKCE: Location %q", resp.Header.Get("Location"))
	}
	// A wrong client secret is invalid_client.
	bad := *e.conf
	bad.ClientSecret = "nope"
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	if _, err := bad.Exchange(ctx, "x"); !isGrantError(err, "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
}

// TestGoogleClient reads the demo calendar with Google's own Calendar v3
// client: the demo speaks its wire format.
func TestGoogleClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.ts.Client())
	v := oauth2.GenerateVerifier()
	tok, err := e.conf.Exchange(ctx, e.authorize(t, v, "allow").Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := calendar.NewService(ctx, option.WithHTTPClient(e.conf.Client(ctx, tok)),
		option.WithEndpoint(e.ts.URL+demo.Path+"/calendar/v3/"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := svc.CalendarList.List().Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Items) != 2 || !cl.Items[0].Primary || cl.Items[0].Id != demo.Account.Email {
		t.Fatalf("calendar list: %+v", cl.Items)
	}
	from, to := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	evs, err := svc.Events.List("primary").TimeMin(from.Format(time.RFC3339)).TimeMax(to.Format(time.RFC3339)).
		SingleEvents(true).OrderBy("startTime").MaxResults(4).Do()
	if err != nil {
		t.Fatal(err)
	}
	var all []*calendar.Event
	for {
		all = append(all, evs.Items...)
		if evs.NextPageToken == "" {
			break
		}
		if evs, err = svc.Events.List("primary").TimeMin(from.Format(time.RFC3339)).TimeMax(to.Format(time.RFC3339)).
			SingleEvents(true).OrderBy("startTime").MaxResults(4).PageToken(evs.NextPageToken).Do(); err != nil {
			t.Fatal(err)
		}
	}
	var standups, allDay int
	var prev string
	for _, ev := range all {
		start := ev.Start.DateTime
		if ev.Start.Date != "" {
			allDay++
			start = ev.Start.Date + "T00:00:00Z"
			if ev.End.Date != "2026-12-07" {
				t.Errorf("offsite ends %s, want 2026-12-07 (exclusive)", ev.End.Date)
			}
		}
		if start < prev {
			t.Errorf("not sorted: %s after %s", start, prev)
		}
		prev = start
		if ev.RecurringEventId == "standup0demo" {
			standups++
			if ev.Start.DateTime == "2026-12-04T09:30:00Z" {
				t.Error("the skipped stand-up (EXDATE) is listed")
			}
		}
	}
	// Seven daily stand-ups from Dec 1, less the skipped one; one all-day offsite.
	if standups != 6 || allDay != 1 || len(all) != 11 {
		t.Fatalf("got %d events, %d stand-ups, %d all-day", len(all), standups, allDay)
	}
	master, err := svc.Events.Get("primary", "standup0demo").Do()
	if err != nil || len(master.Recurrence) != 2 || !strings.HasPrefix(master.Recurrence[0], "RRULE:FREQ=DAILY") {
		t.Fatalf("recurring master: %+v %v", master, err)
	}

	fb, err := svc.Freebusy.Query(&calendar.FreeBusyRequest{TimeMin: "2026-12-03T00:00:00Z", TimeMax: "2026-12-04T00:00:00Z",
		Items: []*calendar.FreeBusyRequestItem{{Id: "primary"}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// Dec 3: stand-up, lunch (marked free: not busy), tentative customer call (busy).
	busy := fb.Calendars["primary"].Busy
	if len(busy) != 2 || busy[0].Start != "2026-12-03T09:30:00Z" || busy[1].Start != "2026-12-03T16:00:00Z" {
		t.Fatalf("busy %+v", busy)
	}

	_, err = svc.Events.Insert("primary", &calendar.Event{Summary: "x"}).Do()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusForbidden {
		t.Fatalf("insert: %v, want 403", err)
	}
	_, err = svc.Events.Get("primary", "nope").Do()
	if !errors.As(err, &gerr) || gerr.Code != http.StatusNotFound {
		t.Fatalf("missing event: %v", err)
	}
}

func TestCalendarNeedsToken(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+demo.Path+"/calendar/v3/users/me/calendarList", nil)
	req.Header.Set("Authorization", "Bearer made-up")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestTransportInProcess: the broker's calls reach the demo without a
// network, also when publicUrl has a path; other URLs go to next.
func TestTransportInProcess(t *testing.T) {
	s := demo.New(demo.Options{BaseURL: "https://unreachable.invalid/broker" + demo.Path, CallbackURL: callback})
	var passed []string
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		passed = append(passed, r.URL.String())
		return nil, errors.New("sent to the network")
	})
	c := &http.Client{Transport: s.Transport(next)}
	resp, err := c.Get("https://unreachable.invalid/broker/demo/calendar/v3/users/me/calendarList")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(passed) != 0 {
		t.Fatalf("in-process: %d, passed on %v", resp.StatusCode, passed)
	}
	for _, u := range []string{"https://unreachable.invalid/broker/demox/token", "https://unreachable.invalid.evil/broker/demo/token", "https://other.example/broker/demo/token"} {
		if _, err := c.Get(u); err == nil {
			t.Errorf("%s was served in-process", u)
		}
	}
	if len(passed) != 3 {
		t.Fatalf("passed on %v", passed)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (e *env) userinfo(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+demo.Path+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func isGrantError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
