package providers

// Kind is how a provider connects.
type Kind string

// Provider kinds.
const (
	KindOAuth2 Kind = "oauth2" // authorization code flow with refresh tokens
	KindAPIKey Kind = "apikey" // an API key typed in by the user
	KindBasic  Kind = "basic"  // username and password (CalDAV)
)

// InjectType is how the credential goes onto a proxied request.
type InjectType string

// Injection types.
const (
	InjectBearer InjectType = "bearer" // Authorization: Bearer <token>
	InjectHeader InjectType = "header" // <name>: <token or key>
	InjectQuery  InjectType = "query"  // ?<name>=<token or key>
	InjectBasic  InjectType = "basic"  // Authorization: Basic (username:password)
)

// Inject says how a credential is injected.
type Inject struct {
	Type InjectType `yaml:"type"`
	Name string     `yaml:"name,omitempty"`
}

// Spec is one provider as written in catalog.yaml or under `providers:` in
// broker.yaml. Pointer and zero fields mean "not set", so an override in
// broker.yaml changes only what it names.
type Spec struct {
	Kind           Kind              `yaml:"kind,omitempty"`
	Name           string            `yaml:"name,omitempty"`
	Enabled        *bool             `yaml:"enabled,omitempty"`
	ClientID       string            `yaml:"clientId,omitempty"`
	ClientSecret   string            `yaml:"clientSecret,omitempty"`
	Tenant         string            `yaml:"tenant,omitempty"` // microsoft: replaces {tenant} in URLs
	AuthURL        string            `yaml:"authUrl,omitempty"`
	TokenURL       string            `yaml:"tokenUrl,omitempty"`
	RefreshURL     string            `yaml:"refreshUrl,omitempty"`
	RevokeURL      string            `yaml:"revokeUrl,omitempty"`
	UserInfoURL    string            `yaml:"userInfoUrl,omitempty"`
	TestURL        string            `yaml:"testUrl,omitempty"`
	TestMethod     string            `yaml:"testMethod,omitempty"`
	Issuer         string            `yaml:"issuer,omitempty"`
	APIBaseURL     string            `yaml:"apiBaseUrl,omitempty"`
	Scopes         []string          `yaml:"scopes,omitempty"`
	ScopeSeparator string            `yaml:"scopeSeparator,omitempty"`
	AuthStyle      string            `yaml:"authStyle,omitempty"` // body | basic
	PKCE           *bool             `yaml:"pkce,omitempty"`
	AuthParams     map[string]string `yaml:"authParams,omitempty"`
	Inject         *Inject           `yaml:"inject,omitempty"`
	Headers        map[string]string `yaml:"headers,omitempty"`
	// AllowHeaders are request headers of the caller that the proxy passes
	// to this provider beyond DefaultRequestHeaders (such as Graph's
	// ConsistencyLevel); every other header is dropped.
	AllowHeaders         []string `yaml:"allowHeaders,omitempty"`
	TokenLifetime        string   `yaml:"tokenLifetime,omitempty"` // Go duration, e.g. 30m
	RotatesRefreshTokens *bool    `yaml:"rotatesRefreshTokens,omitempty"`
	// KeepAlive: refresh idle connections before their refresh token dies
	// unused (Microsoft: 90 days). Default false.
	KeepAlive *bool  `yaml:"keepAlive,omitempty"`
	Events    string `yaml:"events,omitempty"` // google | microsoft | calcom | caldav | none
	// Quirks names the provider's room (providers/<name>; the list is
	// providers/registry); empty = plain RFC 6749.
	Quirks string `yaml:"quirks,omitempty"`
}
