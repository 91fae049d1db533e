package microsoft_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/microsoft"
)

func provider() *providers.Provider {
	return &providers.Provider{ID: "microsoft", Spec: providers.Spec{Kind: providers.KindOAuth2, Quirks: microsoft.Name}, Room: microsoft.Room{}}
}

// Microsoft says a grant is dead with an AADSTS code, often under
// invalid_request.
func TestClassifyTokenError(t *testing.T) {
	resp := &http.Response{StatusCode: 400}
	cases := []struct {
		name string
		err  error
		want providers.ErrorClass
	}{
		{"aadsts in description only", &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_request",
			ErrorDescription: "AADSTS700082: The refresh token has expired due to inactivity."}, providers.ClassReauth},
		{"aadsts error_codes", &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_request",
			Body: []byte(`{"error":"invalid_request","error_codes":[50173]}`)}, providers.ClassReauth},
		{"other aadsts", &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_request",
			ErrorDescription: "AADSTS900144: The request body must contain client_id."}, providers.ClassOther},
		{"aadsts not at the start", &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_request",
			ErrorDescription: "see AADSTS70008"}, providers.ClassOther},
		{"invalid_grant still reauth", &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_grant"}, providers.ClassReauth},
		{"5xx still transient", &oauth2.RetrieveError{Response: &http.Response{StatusCode: 503}}, providers.ClassTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := provider().ClassifyTokenError(c.err); got != c.want {
				t.Errorf("got %v want %v", got, c.want)
			}
		})
	}
}

func TestCallbackOutcome(t *testing.T) {
	cases := []struct{ code, desc, want string }{
		{"invalid_request", "AADSTS50020: User account from identity provider does not exist in tenant.", providers.OutcomeUnsupported},
		{"invalid_request", "AADSTS50194: Application is not configured as a multi-tenant application.", providers.OutcomeUnsupported},
		{"unauthorized_client", "AADSTS700016: Application not found in the directory.", providers.OutcomeUnsupported},
		{"consent_required", "AADSTS65004: User declined to consent.", providers.OutcomeReject},
		{"invalid_request", "AADSTS50011: The redirect URI does not match.", providers.OutcomeInternal},
		{"temporarily_unavailable", "", providers.OutcomeInternal},
		{"access_denied", "", providers.OutcomeReject},
	}
	for _, c := range cases {
		t.Run(c.code+"/"+c.desc, func(t *testing.T) {
			if got := provider().CallbackOutcome(c.code, c.desc); got != c.want {
				t.Errorf("got %q want %q", got, c.want)
			}
		})
	}
}

// Graph /me, and the OIDC userinfo endpoint when userInfoUrl points there.
func TestFetchAccount(t *testing.T) {
	cases := []struct {
		name, body string
		want       providers.Account
	}{
		{"graph me", `{"id":"g1","mail":null,"userPrincipalName":"cy@contoso.example","displayName":"Cy"}`,
			providers.Account{ID: "g1", Email: "cy@contoso.example", Name: "Cy"}},
		{"oidc userinfo", `{"sub":"AAAA-pairwise","name":"Cy","email":"cy@contoso.example"}`,
			providers.Account{ID: "AAAA-pairwise", Email: "cy@contoso.example", Name: "Cy"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(c.body)) }))
			t.Cleanup(srv.Close)
			p := provider()
			p.UserInfoURL = srv.URL
			got, err := p.FetchAccount(context.Background(), providers.NewHTTPClient(0), model.Token{AccessToken: "at"})
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}
