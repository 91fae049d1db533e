package connect

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker/state"
)

// FuzzCallbackQuery sends arbitrary callback query strings: without a state
// signed by the broker's key the answer is always the 400 page, never a
// redirect, and nothing of the input is reflected. The service has no store
// and no providers: any attempt to go further than the state check would
// panic.
func FuzzCallbackQuery(f *testing.F) {
	signer, err := state.NewSigner(state.Options{
		Keys: []state.Key{{ID: "s1", Secret: []byte(strings.Repeat("k", 32))}}, Issuer: "i", Audience: "a",
	})
	if err != nil {
		f.Fatal(err)
	}
	other, err := state.NewSigner(state.Options{
		Keys: []state.Key{{ID: "s1", Secret: []byte(strings.Repeat("x", 32))}}, Issuer: "i", Audience: "a",
	})
	if err != nil {
		f.Fatal(err)
	}
	resigned, err := other.Sign(state.Claims{SessionID: "ses_aaaa", Provider: "google", App: "app_x"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"code=abc&state=" + resigned,
		"state=" + resigned + "&error=access_denied&error_description=%3Cscript%3E",
		"code=x&state=eyJhbGciOiJub25lIn0.e30.",
		"state=a.b.c&state=d.e.f",
		"error=server_error",
		"state=%zz",
		"",
	} {
		f.Add(s)
	}
	s := newService(f, Options{State: signer, PublicURL: "https://broker.example.com"})
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "https://broker.example.com/oauth/callback", nil)
		r.URL.RawQuery = rawQuery
		w := httptest.NewRecorder()
		s.Callback(w, r)
		if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
			t.Fatalf("status %d, Location %q", w.Code, w.Header().Get("Location"))
		}
		if len(rawQuery) >= 8 && strings.Contains(w.Body.String(), rawQuery) {
			t.Fatal("the query is reflected in the page")
		}
	})
}
