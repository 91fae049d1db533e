package connect

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewDerivesCallbackAndCookieFromPublicURL(t *testing.T) {
	for _, tc := range []struct {
		public, callback, path string
		secure                 bool
	}{
		{"https://broker.example.com", "https://broker.example.com/oauth/callback", "/oauth", true},
		{"https://example.com/broker/", "https://example.com/broker/oauth/callback", "/broker/oauth", true},
		{"http://localhost:8080", "http://localhost:8080/oauth/callback", "/oauth", false},
	} {
		s := newService(t, Options{PublicURL: tc.public})
		if s.CallbackURL() != tc.callback || s.cookie != tc.path || s.secure != tc.secure {
			t.Errorf("%s: callback %q cookie path %q secure %v", tc.public, s.CallbackURL(), s.cookie, s.secure)
		}
	}
}

func TestValidSessionID(t *testing.T) {
	for id, want := range map[string]bool{
		"ses_abcdefghijklmnopqrstuvwxyz": true,
		"ses_":                           false,
		"con_abcdefghijklmnopqrstuvwxyz": false,
		"ses_ABC":                        false,
		"ses_a/../b":                     false,
		"ses_" + strings.Repeat("a", 80): false,
	} {
		if got := validSessionID(id); got != want {
			t.Errorf("%q: %v", id, got)
		}
	}
}

func TestErrorPageReflectsNothingAndAllowsNothing(t *testing.T) {
	s := newService(t, Options{PublicURL: "https://broker.example.com"})
	w := httptest.NewRecorder()
	s.errorPage(w, 400, pageInvalid)
	h := w.Header()
	if w.Code != 400 || h.Get("Content-Security-Policy") != pageCSP || h.Get("Cache-Control") != "no-store" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%d %v", w.Code, h)
	}
	body := w.Body.String()
	if strings.Contains(body, "<script") || strings.Contains(body, "<form") || !strings.Contains(body, pageText[pageInvalid].Title) {
		t.Errorf("page %s", body)
	}
}
