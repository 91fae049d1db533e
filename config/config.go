package config

import (
	"time"

	"github.com/oauthbroker/broker/providers"
)

// Config is broker.yaml, typed. Key names are part of the public contract
// (docs/configuration.md documents each field).
type Config struct {
	Server    Server                    `yaml:"server"`
	Store     Store                     `yaml:"store"`
	Security  Security                  `yaml:"security"`
	Cache     Cache                     `yaml:"cache"`
	Proxy     Proxy                     `yaml:"proxy"`
	Refresh   Refresh                   `yaml:"refresh"`
	Log       Log                       `yaml:"log"`
	Telemetry Telemetry                 `yaml:"telemetry"`
	Webhooks  Webhooks                  `yaml:"webhooks"`
	Demo      bool                      `yaml:"demo"`
	Providers map[string]providers.Spec `yaml:"providers"`
}

// Server is the HTTP server.
type Server struct {
	Listen                string   `yaml:"listen"`
	PublicURL             string   `yaml:"publicUrl"`
	Production            bool     `yaml:"production"`
	DataDir               string   `yaml:"dataDir"`
	AllowInsecureLoopback bool     `yaml:"allowInsecureLoopback"`
	ShutdownGrace         Duration `yaml:"shutdownGrace"`
	ReadHeaderTimeout     Duration `yaml:"readHeaderTimeout"`
	ReadTimeout           Duration `yaml:"readTimeout"`
	WriteTimeout          Duration `yaml:"writeTimeout"`
	IdleTimeout           Duration `yaml:"idleTimeout"`
	MaxHeaderBytes        ByteSize `yaml:"maxHeaderBytes"`
	// TrustedProxies are the addresses (IPs or CIDRs) whose
	// X-Forwarded-For the broker believes when it takes a client's address
	// (browser rate limits, logs). Empty: none, the peer address is used.
	TrustedProxies []string `yaml:"trustedProxies"`

	// publicURLFromListen: publicUrl was not set, so it is the one
	// PublicURLFor derives from listen, and SetListen moves it along.
	publicURLFromListen bool
}

// Store selects the backend.
type Store struct {
	Driver   string `yaml:"driver"` // sqlite | postgres
	DSN      string `yaml:"dsn"`
	MaxConns int    `yaml:"maxConns"`
}

// Key is one named secret of a key ring.
type Key struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret,omitempty"` // state keys: any string of at least 32 bytes
	Key    string `yaml:"key,omitempty"`    // encryption keys: base64 of 32 bytes
}

// Security holds the admin tokens, key rings and rate limits.
type Security struct {
	AdminToken     string     `yaml:"adminToken"`
	AdminReadToken string     `yaml:"adminReadToken"`
	StateKeys      []Key      `yaml:"stateKeys"`
	EncryptionKeys []Key      `yaml:"encryptionKeys"`
	RateLimits     RateLimits `yaml:"rateLimits"`
}

// RateLimits: app is per app on /v1 and /proxy; browser is per client
// address on /oauth and /connect. Every rate has the syntax of ParseRate.
type RateLimits struct {
	App Rate `yaml:"app"`
	// Burst is how many requests an app may make at once (0 = the app rate
	// per second rounded up, at least 1).
	Burst   int  `yaml:"burst"`
	Browser Rate `yaml:"browser"`
	// Sessions limits how fast one app creates connect sessions
	// (POST /v1/connect/oauth, /v1/connect/sessions); 0 = no limit.
	Sessions Rate `yaml:"sessions"`
	// Events limits how fast one app reads calendars at the providers
	// (GET and PUT /v1/connections/{id}/calendars, /v1/events,
	// /v1/freebusy): each call fans out to every connection of its
	// schedules, on provider quotas other apps share; 0 = no limit.
	Events Rate `yaml:"events"`
	// MaxPendingSessions caps one app's unexpired, unfinished connect
	// sessions; 0 = no cap.
	MaxPendingSessions int `yaml:"maxPendingSessions"`
}

// Cache sizes the LRU caches.
type Cache struct {
	Tokens       int      `yaml:"tokens"`
	Apps         int      `yaml:"apps"`
	ExpiryMargin Duration `yaml:"expiryMargin"`
}

// Proxy bounds proxied calls.
type Proxy struct {
	Timeout               Duration `yaml:"timeout"`
	ResponseHeaderTimeout Duration `yaml:"responseHeaderTimeout"`
	MaxRequestBody        ByteSize `yaml:"maxRequestBody"`
	RetryBodyLimit        ByteSize `yaml:"retryBodyLimit"`
	// MaxResponseHeaderBytes bounds a provider's response headers; over it
	// the caller gets the broker's 502.
	MaxResponseHeaderBytes ByteSize `yaml:"maxResponseHeaderBytes"`
}

// Refresh configures background token upkeep.
type Refresh struct {
	KeepAlive KeepAlive `yaml:"keepAlive"`
	// LeaseTTL bounds how long one replica may hold a connection's refresh
	// lease: when a replica dies mid-refresh, another takes over after it.
	LeaseTTL Duration `yaml:"leaseTtl"`
	// RejectedCooldown: after the provider rejected a connection's token
	// and it was force-refreshed, further rejections within this time pass
	// through without another refresh, so no caller can turn its request
	// rate into token-endpoint traffic.
	RejectedCooldown Duration `yaml:"rejectedCooldown"`
}

// KeepAlive refreshes idle connections before their refresh tokens lapse.
type KeepAlive struct {
	Enabled   bool     `yaml:"enabled"`
	Interval  Duration `yaml:"interval"`
	IdleAfter Duration `yaml:"idleAfter"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Telemetry configures OpenTelemetry.
type Telemetry struct {
	OTLP       OTLP `yaml:"otlp"`
	Prometheus bool `yaml:"prometheus"`
	// MetricsListen, when set, serves /metrics only on this address, not on
	// server.listen, so it can stay off the public port.
	MetricsListen string `yaml:"metricsListen"`
}

// OTLP is the trace exporter.
type OTLP struct {
	Endpoint string `yaml:"endpoint"`
	Protocol string `yaml:"protocol"` // grpc | http
}

// Webhooks configures webhook delivery (docs/webhooks.md).
type Webhooks struct {
	// Timeout bounds one delivery attempt, from dialling to the answer.
	Timeout Duration `yaml:"timeout"`
	// Concurrency is how many deliveries each replica has in flight.
	Concurrency int `yaml:"concurrency"`
	// PollInterval is how often each replica reads the outbox when idle.
	PollInterval Duration `yaml:"pollInterval"`
	// SecretGrace is how long a rotated-out signing secret keeps signing
	// beside the new one; 0 = it stops at once.
	SecretGrace Duration `yaml:"secretGrace"`
	// Retention: delivered events are deleted this long after delivery;
	// FailedRetention: failed ones this long after failing. 0 = kept.
	Retention       Duration `yaml:"retention"`
	FailedRetention Duration `yaml:"failedRetention"`
}

// Duration is a time.Duration written as "20s", "1h", "720h".
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ByteSize is a size written as 65536, "64KiB", "100MiB" or "1GiB".
type ByteSize int64

// Rate is a rate written as "10/s", "600/m", "10" (= 10/s) or "0" (off);
// see ParseRate.
type Rate struct {
	Per    time.Duration
	Events int
}

// PerSecond returns the rate in events per second (0 = off).
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 || r.Events <= 0 {
		return 0
	}
	return float64(r.Events) / r.Per.Seconds()
}
