package broker_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/config"
)

// A JSON body that names a member twice is refused on every route that
// takes one, at any depth, naming the member: encoding/json would keep the
// last silently, while a gateway or an audit log in front may have read the
// first ({"permissions":["EVENTS_READ"],"permissions":[...all]}).
func TestDuplicateJSONNamesRefused(t *testing.T) {
	const admin = "admin-token-for-the-json-tests-0123456789"
	h := newBroker(t, func(c *config.Config) { c.Security.AdminToken = admin })
	do := func(method, path, auth, body string) (int, string, string) {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if k, ok := strings.CutPrefix(auth, "key:"); ok {
			r.Header.Set("X-Api-Key", k)
		} else {
			r.Header.Set("Authorization", "Bearer "+auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var env struct{ Error struct{ Code, Field string } }
		_ = json.Unmarshal(w.Body.Bytes(), &env)
		return w.Code, env.Error.Code, env.Error.Field
	}
	code, _, _ := do("POST", "/v1/apps", admin, `{"app":{"name":"Booking","allowedDomains":["app.example.com"]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create app: %d", code)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/apps", strings.NewReader(`{"app":{"name":"Second"}}`))
	r.Header.Set("Authorization", "Bearer "+admin)
	h.ServeHTTP(w, r)
	var created struct {
		App          struct{ ID string }
		ClientSecret string
	}
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	key := "key:" + created.ClientSecret
	for _, tc := range []struct{ method, path, auth, body, field string }{
		{"POST", "/v1/apps", admin, `{"app":{"name":"Booking","permissions":["EVENTS_READ"],"permissions":["PROXY","EVENTS_READ"]}}`, "app.permissions"},
		{"POST", "/v1/apps", admin, `{"app":{"name":"Booking"},"app":{"name":"Other"}}`, "app"},
		{"PATCH", "/v1/apps/" + created.App.ID, admin, `{"app":{"name":"Renamed"},"mask":{"paths":["name"],"paths":["permissions"]}}`, "mask.paths"},
		{"POST", "/v1/apps/query", admin, `{"paging":{"limit":1,"limit":100}}`, "paging.limit"},
		{"POST", "/v1/connect/sessions", key, `{"scheduleId":"s1","scheduleId":"s2","redirectUrl":"https://app.example.com/cb"}`, "scheduleId"},
		{"POST", "/v1/connect/credentials", key, `{"providerId":"apikey","scheduleId":"s1","credentials":{"apiKey":"a","apiKey":"b"}}`, "credentials.apiKey"},
		{"PUT", "/v1/connections/con_aaaaaaaaaaaaaaaaaaaaaaaaaa/calendars", key, `{"selected":["a"],"selected":["b"]}`, "selected"},
	} {
		code, ecode, field := do(tc.method, tc.path, tc.auth, tc.body)
		if code != http.StatusBadRequest || ecode != "invalid_argument" || field != tc.field {
			t.Errorf("%s %s %s: %d %s field %q, want 400 invalid_argument on %q", tc.method, tc.path, tc.body, code, ecode, field, tc.field)
		}
	}
}
