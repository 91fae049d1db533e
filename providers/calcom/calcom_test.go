package calcom_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom"
)

// /v2/me wraps the user in data, with a numeric id longer than a float64
// holds.
func TestFetchAccountBigNumericID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"success","data":{"id":12345678901234567,"email":"f@x","username":"fay"}}`))
	}))
	t.Cleanup(srv.Close)
	p := &providers.Provider{ID: "calcom", Spec: providers.Spec{Kind: providers.KindOAuth2, UserInfoURL: srv.URL}, Room: calcom.Room{}}
	got, err := p.FetchAccount(context.Background(), providers.NewHTTPClient(0), model.Token{AccessToken: "at"})
	if want := (providers.Account{ID: "12345678901234567", Email: "f@x", Name: "fay"}); err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
}
