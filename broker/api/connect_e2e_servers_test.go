package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	oauthstore "github.com/go-oauth2/oauth2/v4/store"

	"github.com/oauthbroker/broker/providers"
)

// stdServer is a standards-compliant OAuth 2.0 authorization server built
// from github.com/go-oauth2/oauth2/v4 (server, manage and store packages,
// in-memory token store), with PKCE forced. Its authorize endpoint approves
// at once for the user named by login_hint; /userinfo answers OIDC-style
// for a valid bearer token.
type stdServer struct {
	URL    string
	tokens counter

	mu       sync.Mutex
	clientID []string // the client_id of every authorize request
}

const (
	stdClientID = "broker-client"
	stdSecret   = "broker-client-secret-0123456789"
)

func newStdServer(t *testing.T, callback string) *stdServer {
	t.Helper()
	s := &stdServer{}
	manager := manage.NewDefaultManager()
	manager.SetAuthorizeCodeTokenCfg(manage.DefaultAuthorizeCodeTokenCfg)
	manager.MustTokenStorage(oauthstore.NewMemoryTokenStore())
	clients := oauthstore.NewClientStore()
	if err := clients.Set(stdClientID, &models.Client{ID: stdClientID, Secret: stdSecret, Domain: callback}); err != nil {
		t.Fatal(err)
	}
	manager.MapClientStorage(clients)
	// RFC 6749 §3.1.2: the redirect URI must be the registered one exactly.
	manager.SetValidateURIHandler(func(base, redirect string) error {
		if base != redirect {
			return errInvalidRedirect
		}
		return nil
	})
	cfg := server.NewConfig()
	cfg.ForcePKCE = true
	srv := server.NewServer(cfg, manager)
	srv.SetClientInfoHandler(server.ClientFormHandler) // client_secret_post, the provider's authStyle body
	srv.SetUserAuthorizationHandler(func(w http.ResponseWriter, r *http.Request) (string, error) {
		if u := r.FormValue("login_hint"); u != "" {
			return u, nil
		}
		return "std-user@example.com", nil
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.clientID = append(s.clientID, r.FormValue("client_id"))
		s.mu.Unlock()
		if err := srv.HandleAuthorizeRequest(w, r); err != nil {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/token", s.tokens.wrap(func(w http.ResponseWriter, r *http.Request) {
		_ = srv.HandleTokenRequest(w, r)
	}))
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		ti, err := srv.ValidationBearerToken(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"sub": "std-" + ti.GetUserID(), "email": ti.GetUserID(), "name": "Standard User",
		})
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

type redirectError struct{}

func (redirectError) Error() string { return "invalid redirect uri" }

var errInvalidRedirect = redirectError{}

func (s *stdServer) provider() *providers.Provider {
	yes, no := true, false
	return &providers.Provider{ID: pStd, Spec: providers.Spec{
		Kind: providers.KindOAuth2, Name: "Standard OAuth", Enabled: &yes,
		ClientID: stdClientID, ClientSecret: stdSecret,
		AuthURL: s.URL + "/authorize", TokenURL: s.URL + "/token", UserInfoURL: s.URL + "/userinfo",
		TestURL: s.URL + "/userinfo", TestMethod: http.MethodGet,
		Scopes: []string{"read"}, ScopeSeparator: " ", AuthStyle: "body", PKCE: &yes,
		Inject: &providers.Inject{Type: providers.InjectBearer}, RotatesRefreshTokens: &no, Events: "none",
	}}
}

func (s *stdServer) authorizeClients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.clientID...)
}

// credServer is a credentials provider's API: GET /key/me accepts the good
// API key in X-Api-Key, GET /dav/me the good username and password.
type credServer struct {
	URL   string
	tests counter
}

func newCredServer(t *testing.T) *credServer {
	t.Helper()
	s := &credServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/key/me", s.tests.wrap(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Api-Key") {
		case goodAPIKey, "key-second-0123456789":
			w.WriteHeader(http.StatusOK)
		case "key-broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	mux.HandleFunc("/dav/me", s.tests.wrap(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == davUser && p == davPass {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

func (s *credServer) apiKeyProvider() *providers.Provider {
	yes := true
	return &providers.Provider{ID: pAPIKey, Spec: providers.Spec{
		Kind: providers.KindAPIKey, Name: "Keyed", Enabled: &yes,
		TestURL: s.URL + "/key/me", TestMethod: http.MethodGet, APIBaseURL: s.URL + "/key",
		Inject: &providers.Inject{Type: providers.InjectHeader, Name: "X-Api-Key"}, Events: "none",
	}}
}

func (s *credServer) basicProvider() *providers.Provider {
	yes := true
	return &providers.Provider{ID: pBasic, Spec: providers.Spec{
		Kind: providers.KindBasic, Name: "DAV", Enabled: &yes,
		TestURL: s.URL + "/dav/me", TestMethod: http.MethodGet, APIBaseURL: s.URL + "/dav",
		Inject: &providers.Inject{Type: providers.InjectBasic}, Events: "caldav",
	}}
}
