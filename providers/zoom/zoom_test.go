package zoom_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/zoom"
)

// /v2/users/me without display_name falls back to first and last name.
func TestFetchAccountWithoutDisplayName(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"id":"z1","first_name":"Eve","last_name":"Smith","email":"e@x"}`))
	}))
	t.Cleanup(srv.Close)
	p := &providers.Provider{ID: "zoom", Spec: providers.Spec{Kind: providers.KindOAuth2, UserInfoURL: srv.URL}, Room: zoom.Room{}}
	got, err := p.FetchAccount(context.Background(), providers.NewHTTPClient(0), model.Token{AccessToken: "at"})
	if want := (providers.Account{ID: "z1", Email: "e@x", Name: "Eve Smith"}); err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}
