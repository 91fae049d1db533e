package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Provider is one provider offered to the app (GET /v1/providers).
type Provider struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	ConnectMethods []string `json:"connectMethods"` // ConnectOAuth, ConnectCredentials
	Features       Features `json:"features"`
}

// Features say what the broker does with a provider's connections.
type Features struct {
	Proxy      bool `json:"proxy"`      // /proxy works (the provider has an API base URL)
	ListEvents bool `json:"listEvents"` // it has an events adapter behind /v1/events
}

// Connect methods of a Provider.
const (
	ConnectOAuth       = "OAUTH"
	ConnectCredentials = "CREDENTIALS"
)

// Connection is a connection as the app sees it: never a token.
type Connection struct {
	ID              string     `json:"id"`
	ProviderID      string     `json:"providerId"`
	ScheduleID      string     `json:"scheduleId"`
	Status          string     `json:"status"` // StatusConnected, StatusNeedsReauth, StatusDisconnected
	Account         Account    `json:"account"`
	Scopes          []string   `json:"scopes"`
	CreatedAt       time.Time  `json:"createdAt"`
	LastRefreshedAt *time.Time `json:"lastRefreshedAt"`
	LastError       string     `json:"lastError,omitempty"`
}

// Account is the provider account behind a connection.
type Account struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Connection statuses.
const (
	StatusConnected    = "CONNECTED"
	StatusNeedsReauth  = "NEEDS_REAUTH"
	StatusDisconnected = "DISCONNECTED"
)

// Providers lists the providers offered to the app, sorted by id.
func (c *Client) Providers(ctx context.Context) ([]Provider, error) {
	var out struct {
		Providers []Provider `json:"providers"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/providers", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Providers, nil
}

// OAuthRequest starts an OAuth connect flow (POST /v1/connect/oauth).
type OAuthRequest struct {
	ProviderID  string   `json:"providerId"`
	ScheduleID  string   `json:"scheduleId"`
	RedirectURL string   `json:"redirectUrl"`
	Scopes      []string `json:"scopes,omitempty"` // added to the provider's defaults
	LoginHint   string   `json:"loginHint,omitempty"`
	AppState    string   `json:"appState,omitempty"` // echoed back on RedirectURL
}

// OAuthStart is where to send the end user's browser, and until when.
type OAuthStart struct {
	OAuthURL  string    `json:"oauthUrl"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ConnectOAuth starts an OAuth flow; send the user's browser to OAuthURL.
// The flow ends on RedirectURL with ?connectionId=… or ?error=….
func (c *Client) ConnectOAuth(ctx context.Context, r OAuthRequest) (*OAuthStart, error) {
	var out OAuthStart
	if err := c.do(ctx, http.MethodPost, "/v1/connect/oauth", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SessionRequest creates a hosted connect page (POST /v1/connect/sessions).
type SessionRequest struct {
	ScheduleID  string   `json:"scheduleId"`
	RedirectURL string   `json:"redirectUrl"`
	Providers   []string `json:"providers,omitempty"` // empty: every provider offered to the app
	AppState    string   `json:"appState,omitempty"`
}

// Session is the hosted connect page for the end user, and until when it
// works.
type Session struct {
	ConnectURL string    `json:"connectUrl"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// ConnectSession creates a hosted connect page: the end user picks a
// provider there and signs in, or types credentials, without the password
// passing through the app.
func (c *Client) ConnectSession(ctx context.Context, r SessionRequest) (*Session, error) {
	var out Session
	if err := c.do(ctx, http.MethodPost, "/v1/connect/sessions", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CodeRequest stores a connection from a code the app received itself
// (POST /v1/connect/code).
type CodeRequest struct {
	ProviderID   string `json:"providerId"`
	ScheduleID   string `json:"scheduleId"`
	Code         string `json:"code"`
	RedirectURI  string `json:"redirectUri"`
	CodeVerifier string `json:"codeVerifier,omitempty"`
	Name         string `json:"name,omitempty"`
}

// ConnectCode exchanges an authorization code the app received and stores
// the connection.
func (c *Client) ConnectCode(ctx context.Context, r CodeRequest) (*Connection, error) {
	return c.connection(ctx, http.MethodPost, "/v1/connect/code", r)
}

// CredentialsRequest stores a credentials connection (POST
// /v1/connect/credentials): APIKey for an apikey provider, Username and
// Password for a basic one (CalDAV).
type CredentialsRequest struct {
	ProviderID  string      `json:"providerId"`
	ScheduleID  string      `json:"scheduleId"`
	Credentials Credentials `json:"credentials"`
}

// Credentials of a credentials connection.
type Credentials struct {
	APIKey   string `json:"apiKey,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// ConnectCredentials checks the credentials at the provider and stores the
// connection; credentials the provider refuses are an *Error with
// CodeInvalidArgument.
func (c *Client) ConnectCredentials(ctx context.Context, r CredentialsRequest) (*Connection, error) {
	return c.connection(ctx, http.MethodPost, "/v1/connect/credentials", r)
}

// ListOptions filter and page Connections; zero values mean no filter and
// the broker's default page size.
type ListOptions struct {
	ScheduleID string
	ProviderID string
	Status     string
	Limit      int    // 1–100
	Cursor     string // NextCursor of the previous page
}

// ConnectionPage is one page of connections, ordered by id; NextCursor is
// empty on the last page.
type ConnectionPage struct {
	Connections []Connection `json:"connections"`
	NextCursor  string       `json:"nextCursor"`
}

// Connections lists one page of the app's connections.
func (c *Client) Connections(ctx context.Context, o ListOptions) (*ConnectionPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"scheduleId": o.ScheduleID, "providerId": o.ProviderID, "status": o.Status, "cursor": o.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var out ConnectionPage
	if err := c.do(ctx, http.MethodGet, "/v1/connections", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllConnections follows the cursor through every page.
func (c *Client) AllConnections(ctx context.Context, o ListOptions) ([]Connection, error) {
	var all []Connection
	for {
		page, err := c.Connections(ctx, o)
		if err != nil {
			return all, err
		}
		all = append(all, page.Connections...)
		if page.NextCursor == "" {
			return all, nil
		}
		o.Cursor = page.NextCursor
	}
}

// Connection gets one of the app's connections; another app's is
// CodeNotFound, like a missing one.
func (c *Client) Connection(ctx context.Context, id string) (*Connection, error) {
	var out Connection
	if err := c.do(ctx, http.MethodGet, "/v1/connections/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TestResult says whether the provider accepts the connection's
// credentials; Code says why not (rejected, needs_reauth, disconnected,
// upstream_unavailable).
type TestResult struct {
	OK   bool   `json:"ok"`
	Code string `json:"code,omitempty"`
}

// TestConnection calls the provider's test URL with the connection's
// credentials.
func (c *Client) TestConnection(ctx context.Context, id string) (*TestResult, error) {
	var out TestResult
	if err := c.do(ctx, http.MethodPost, "/v1/connections/"+url.PathEscape(id)+"/test", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Disconnect revokes the grant at the provider where it can and wipes the
// credentials; the connection stays, DISCONNECTED.
func (c *Client) Disconnect(ctx context.Context, id string) (*Connection, error) {
	var out Connection
	if err := c.do(ctx, http.MethodPost, "/v1/connections/"+url.PathEscape(id)+"/disconnect", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) connection(ctx context.Context, method, path string, in any) (*Connection, error) {
	var out struct {
		Connection Connection `json:"connection"`
	}
	if err := c.do(ctx, method, path, nil, in, &out); err != nil {
		return nil, err
	}
	return &out.Connection, nil
}
