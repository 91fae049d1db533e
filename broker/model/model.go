package model

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// Permission limits what an app's secret may do (docs/api.md).
type Permission string

// The app permissions.
const (
	PermConnectionsManage Permission = "CONNECTIONS_MANAGE"
	PermConnectionsRead   Permission = "CONNECTIONS_READ"
	PermProxy             Permission = "PROXY"
	PermEventsRead        Permission = "EVENTS_READ"
)

// AllPermissions is the default set of a new app.
var AllPermissions = []Permission{PermConnectionsManage, PermConnectionsRead, PermProxy, PermEventsRead}

// App is a client app registered with the broker. Its id is its client id.
type App struct {
	ID                  string
	Name                string
	Description         string
	LogoURL             string
	HomepageURL         string
	AllowedDomains      []string
	AllowedRedirectURIs []string
	LoginURL            string
	LogoutURL           string
	WebhookURL          string
	Permissions         []Permission
	// RateLimit overrides security.rateLimits.app for this app (requests per
	// second; 0 = the broker-wide default).
	RateLimit float64
	// SecretHash is the hash of the client secret; the secret itself is never
	// stored.
	SecretHash []byte
	// WebhookSecret is the webhook signing secret, encrypted (AAD: WebhookSecretAAD).
	WebhookSecret []byte
	// WebhookSecretPrev is the secret a rotation replaced, encrypted like
	// WebhookSecret; deliveries are signed with it too until
	// WebhookSecretPrevUntil, so a receiver can roll over (docs/webhooks.md).
	WebhookSecretPrev      []byte
	WebhookSecretPrevUntil time.Time
	// WebhooksDisabledAt is set when the receiver answered 410 Gone; no
	// delivery is attempted until WebhookURL is set again, which clears it.
	WebhooksDisabledAt time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	// Version increases with every update; compare-and-swap updates check it.
	Version int64
}

// Has reports whether the app holds permission p.
func (a *App) Has(p Permission) bool {
	for _, q := range a.Permissions {
		if q == p {
			return true
		}
	}
	return false
}

// WebhookSecretAAD is the additional data binding an app's encrypted webhook
// secret to that app.
func WebhookSecretAAD(appID string) []byte { return []byte("app-webhook:" + appID) }

// AppProviderAAD is the additional data binding an app's own OAuth client
// secret to the app and provider.
func AppProviderAAD(appID, providerID string) []byte {
	return []byte("app-provider:" + appID + "/" + providerID)
}

// CredentialsAAD is the additional data binding a connection's encrypted
// credentials to that connection: its id, which is why a reconnect keeps the
// id (Store.UpsertConnectionWithEvent seals with the final one).
func CredentialsAAD(connectionID string) []byte { return []byte(connectionID) }

// AppProvider is an app's own OAuth client for one provider ("your own auth").
type AppProvider struct {
	AppID        string
	ProviderID   string
	ClientID     string
	ClientSecret []byte // encrypted, AAD: AppProviderAAD
	Scopes       []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ConnectionStatus is the state of a connection.
type ConnectionStatus string

// The connection statuses.
const (
	StatusConnected    ConnectionStatus = "CONNECTED"
	StatusNeedsReauth  ConnectionStatus = "NEEDS_REAUTH"
	StatusDisconnected ConnectionStatus = "DISCONNECTED"
)

// ClientSource says whose OAuth client a connection was made with, so refresh
// and revoke use the same one.
type ClientSource string

// Client sources.
const (
	ClientBroker ClientSource = "broker" // broker-wide client from broker.yaml
	ClientApp    ClientSource = "app"    // the app's own client (AppProvider)
	ClientNone   ClientSource = ""       // credentials connections
)

// Connection links one end user's provider account to an app and schedule.
type Connection struct {
	ID           string
	AppID        string
	ProviderID   string
	ScheduleID   string
	AccountID    string // the provider's account id, or a hash of the credentials
	AccountEmail string
	AccountName  string
	Status       ConnectionStatus
	Scopes       []string
	ClientSource ClientSource
	// Credentials is the encrypted JSON of a Token (AAD: CredentialsAAD).
	// Empty once disconnected.
	Credentials []byte
	// TokenExpiry mirrors the token's expiry so the keep-alive loop can
	// select without decrypting.
	TokenExpiry     time.Time
	LastRefreshedAt time.Time
	LastUsedAt      time.Time
	LastError       string // a code, never provider text that could hold a secret
	// Calendars are the ids of the selected calendars (PUT …/calendars);
	// empty means the account's primary one. A reconnect keeps them.
	Calendars []string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Token is a connection's decrypted credential: OAuth tokens, an API key, or
// a username and password. It is never logged nor sent to an app.
type Token struct {
	AccessToken  string    `json:"accessToken,omitempty"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	TokenType    string    `json:"tokenType,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	APIKey       string    `json:"apiKey,omitempty"`
	Username     string    `json:"username,omitempty"`
	Password     string    `json:"password,omitempty"`
}

// AuthSession is the server side of one OAuth connect flow. It is created by
// POST /v1/connect/oauth, bound to a browser by /oauth/start and consumed
// exactly once by the callback. A hosted connect page (POST
// /v1/connect/sessions) is an AuthSession too, without a ProviderID: the end
// user picks one, and its Scopes hold the ids of the providers it offers.
type AuthSession struct {
	ID           string
	AppID        string
	ProviderID   string
	ScheduleID   string
	RedirectURL  string
	AppState     string
	Scopes       []string
	LoginHint    string
	PKCEVerifier string
	ClientSource ClientSource
	// BindingHash is the SHA-256 of the browser-binding cookie's nonce; empty
	// until /oauth/start ran.
	BindingHash []byte
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

// WebhookEvent is one entry of the durable webhook outbox, and the record of
// its delivery.
type WebhookEvent struct {
	ID    string // also the webhook-id header: the receiver's idempotency key
	AppID string
	// ConnectionID orders delivery: an event waits while an earlier one of
	// the same connection is pending. Empty (webhook.test) = no ordering.
	ConnectionID string
	Type         string // e.g. connection.needs_reauth
	// Payload is the exact body delivered (WebhookBody as JSON), never a
	// secret; every attempt sends the same bytes.
	Payload        []byte
	Status         DeliveryStatus // "" reads as DeliveryPending on enqueue
	Attempts       int
	NextAttemptAt  time.Time
	LastStatusCode int // of the last attempt; 0 when no HTTP answer came
	LastError      string
	DeliveredAt    time.Time
	FailedAt       time.Time
	CreatedAt      time.Time
	// Seq is the store's insertion order (set by the store).
	Seq int64
}

// DeliveryStatus is where a webhook event is in its delivery.
type DeliveryStatus string

// Delivery statuses (the API's lower-case names).
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Webhook event types.
const (
	EventConnectionCreated     = "connection.created"
	EventConnectionReconnected = "connection.reconnected"
	EventConnectionNeedsReauth = "connection.needs_reauth"
	EventConnectionDisconnect  = "connection.disconnected"
	EventWebhookTest           = "webhook.test"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns prefix + "_" + 128 random bits in lower-case base32 (26
// characters, no underscores), e.g. con_k5...; ids are unguessable.
func NewID(prefix string) string {
	return prefix + "_" + RandomToken(16)
}

// RandomToken returns n random bytes in lower-case base32 without padding.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("model: crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(idEncoding.EncodeToString(b))
}

// ID prefixes.
const (
	PrefixApp        = "app"
	PrefixConnection = "con"
	PrefixSession    = "ses"
	PrefixWebhook    = "whk"
)
