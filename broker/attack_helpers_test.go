package broker_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// answer is what a hostile caller sees of one response.
type answer struct {
	code int
	body string
	h    http.Header
}

// envelope is the error of an answer, when it is the broker's envelope.
func (a answer) envelope() (code, field string, ok bool) {
	var env struct {
		Error struct{ Code, Field, Message string }
	}
	if json.Unmarshal([]byte(a.body), &env) != nil || env.Error.Code == "" {
		return "", "", false
	}
	return env.Error.Code, env.Error.Field, a.h.Get("X-Broker-Error") == env.Error.Code
}

// send makes one request to base over the network: auth "key:<secret>" is
// an app, anything else non-empty an admin bearer token.
func send(t *testing.T, base, method, path, auth, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if k, ok := strings.CutPrefix(auth, "key:"); ok {
		req.Header.Set("X-Api-Key", k)
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

// newApp registers an app with the admin token and returns its id and
// "key:<secret>".
func (d *demoBroker) newApp(t *testing.T, app map[string]any) (id, key string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"app": app})
	a := send(t, d.URL, "POST", "/v1/apps", d.Admin, string(b))
	var out struct {
		App          struct{ ID string }
		ClientSecret string
	}
	if a.code != http.StatusCreated || json.Unmarshal([]byte(a.body), &out) != nil {
		t.Fatalf("create app: %d %s", a.code, a.body)
	}
	return out.App.ID, "key:" + out.ClientSecret
}
