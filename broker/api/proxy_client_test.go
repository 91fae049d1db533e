package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/client"
	"github.com/oauthbroker/broker/middleware"
	"github.com/oauthbroker/broker/providers/providertest"
)

// A Go service calls the provider's API URL as its SDK would; the broker
// transport routes it through /proxy with the app's secret, and the provider
// sees the connection's credential and the same path and query.
func TestProxyClientTransport(t *testing.T) {
	e := newPxEnv(t)
	tr := &client.Transport{Broker: e.srv.URL, ClientSecret: e.secret, ConnectionID: e.conn, ProviderBase: e.fake.URL + "/api"}
	hc := &http.Client{Transport: tr}

	req, _ := http.NewRequest("POST", e.fake.URL+"/api/calendars/team%40group.example/events?maxResults=5", strings.NewReader(`{"summary":"x"}`))
	req.Header.Set("Authorization", "Bearer the-sdk-would-send-its-own")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(middleware.HeaderBrokerError) != "" {
		t.Fatalf("status %d, broker error %q", resp.StatusCode, resp.Header.Get(middleware.HeaderBrokerError))
	}
	var echo providertest.Echo
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &echo); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if echo.Method != "POST" || echo.Path != "/api/calendars/team@group.example/events" || echo.RawQuery != "maxResults=5" || echo.BodyLength != 15 {
		t.Fatalf("provider saw %s %s ?%s (%d bytes)", echo.Method, echo.Path, echo.RawQuery, echo.BodyLength)
	}
	if got := echo.Headers["Authorization"]; len(got) != 1 || strings.Contains(got[0], "the-sdk-would-send") {
		t.Fatalf("provider saw Authorization %v, want only the connection's token", got)
	}

	// Anything outside the provider's base never leaves the process.
	for _, u := range []string{"https://evil.example/api/x", e.fake.URL + "/apix/y", e.fake.URL + "/other"} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := hc.Do(req); !errors.Is(err, client.ErrOutsideProviderBase) {
			t.Fatalf("%s: %v, want ErrOutsideProviderBase", u, err)
		}
	}
}
