package client_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/client"
)

// Requests under the provider's base go to /proxy/{id}/… with the app's
// secret and without the SDK's own Authorization; anything else never
// leaves the process.
func TestTransport(t *testing.T) {
	type seen struct{ path, rawPath, query, key, auth, body string }
	got := make(chan seen, 1)
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Get(client.HeaderAPIKey), r.Header.Get("Authorization"), string(b)}
	}))
	t.Cleanup(broker.Close)
	cl, err := client.New(broker.URL+"/base/", "bks_app_secret")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: cl.Transport("con_1", "https://www.googleapis.com/calendar/v3/")}

	req, _ := http.NewRequest("PATCH", "https://www.googleapis.com/calendar/v3/calendars/team%40group.example/events/e1?sendUpdates=all", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer sdk-token")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := <-got
	if s.path != "/base/proxy/con_1/calendars/team@group.example/events/e1" || s.rawPath != "/base/proxy/con_1/calendars/team%40group.example/events/e1" ||
		s.query != "sendUpdates=all" || s.key != "bks_app_secret" || s.auth != "" || s.body != "{}" {
		t.Fatalf("broker saw %+v", s)
	}

	for _, u := range []string{
		"https://evil.example/calendar/v3/x",        // another host
		"http://www.googleapis.com/calendar/v3/x",   // another scheme
		"https://www.googleapis.com/calendar/v3x/y", // not on a segment boundary
		"https://www.googleapis.com/drive/v3/files", // outside the base path
		"https://www.googleapis.com.evil.example/calendar/v3/x",
	} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := hc.Do(req); !errors.Is(err, client.ErrOutsideProviderBase) {
			t.Errorf("%s: %v, want ErrOutsideProviderBase", u, err)
		}
	}
	select {
	case s := <-got:
		t.Fatalf("a refused request reached the broker: %+v", s)
	default:
	}
}

func TestNewRefuses(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://x/?a=b"} {
		if _, err := client.New(u, "s"); err == nil {
			t.Errorf("New(%q) worked", u)
		}
	}
	if _, err := client.New("http://127.0.0.1:8080", ""); err == nil {
		t.Error("an empty secret worked")
	}
}
