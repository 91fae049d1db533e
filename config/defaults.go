package config

import (
	"path/filepath"
	"time"
)

// Where the config comes from.
const (
	DefaultConfigFile = "broker.yaml"   // -c default
	ConfigFileEnv     = "BROKER_CONFIG" // overrides DefaultConfigFile
	MaxConfigSize     = 1 << 20         // a larger file is refused, not parsed
)

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults: every value of docs/configuration.md. Default() applies them;
// a key missing from broker.yaml keeps its default.
const (
	DefaultListen                 = "127.0.0.1:8080"
	DefaultDataDir                = "./data"
	DefaultShutdownGrace          = 20 * time.Second
	DefaultReadHeaderTimeout      = 5 * time.Second
	DefaultReadTimeout            = 60 * time.Second
	DefaultWriteTimeout           = 120 * time.Second
	DefaultIdleTimeout            = 120 * time.Second
	DefaultMaxHeaderBytes         = 64 << 10
	DefaultStoreDriver            = DriverSQLite
	DefaultSQLiteFile             = "broker.db" // inside server.dataDir when store.dsn is empty
	DefaultMaxConns               = 20
	DefaultStateKeyID             = "s1"
	DefaultEncryptionKeyID        = "e1"
	DefaultAppRateEvents          = 0 // app: no limit (0 = none)
	DefaultAppRatePer             = time.Second
	DefaultAppBurst               = 0
	DefaultBrowserRateEvents      = 10 // browser: 10/s per client address
	DefaultBrowserRatePer         = time.Second
	DefaultCacheTokens            = 10000
	DefaultCacheApps              = 1000
	DefaultExpiryMargin           = 60 * time.Second
	DefaultProxyTimeout           = 30 * time.Second
	DefaultResponseHeaderTimeout  = 10 * time.Second
	DefaultMaxRequestBody         = 100 << 20
	DefaultRetryBodyLimit         = 1 << 20
	DefaultMaxResponseHeaderBytes = 256 << 10
	DefaultRejectedCooldown       = 30 * time.Second
	DefaultSessionRateEvents      = 10 // sessions: 10/s per app
	DefaultSessionRatePer         = time.Second
	DefaultEventsRateEvents       = 20 // events: 20/s per app
	DefaultEventsRatePer          = time.Second
	DefaultMaxPendingSessions     = 1000
	DefaultKeepAliveEnabled       = true
	DefaultKeepAliveInterval      = time.Hour
	DefaultKeepAliveIdleAfter     = 720 * time.Hour
	DefaultRefreshLeaseTTL        = 30 * time.Second
	DefaultLogLevel               = "info"
	DefaultLogFormat              = "text"
	DefaultOTLPProtocol           = "grpc"
	DefaultPrometheus             = true
	DefaultDemo                   = false
	DefaultWebhookTimeout         = 10 * time.Second
	DefaultWebhookConcurrency     = 8
	DefaultWebhookPollInterval    = time.Second
	DefaultWebhookSecretGrace     = 24 * time.Hour
	DefaultWebhookRetention       = 7 * 24 * time.Hour
	DefaultWebhookFailedRetention = 30 * 24 * time.Hour
)

// Default returns a Config holding every default. With its empty keys and
// admin token it is a development config: the broker generates development
// secrets for it, and Validate refuses it in production.
func Default() *Config {
	return &Config{
		Server: Server{
			Listen:              DefaultListen,
			PublicURL:           PublicURLFor(DefaultListen), // http://localhost:8080
			publicURLFromListen: true,
			DataDir:             DefaultDataDir,
			ShutdownGrace:       Duration(DefaultShutdownGrace),
			ReadHeaderTimeout:   Duration(DefaultReadHeaderTimeout),
			ReadTimeout:         Duration(DefaultReadTimeout),
			WriteTimeout:        Duration(DefaultWriteTimeout),
			IdleTimeout:         Duration(DefaultIdleTimeout),
			MaxHeaderBytes:      DefaultMaxHeaderBytes,
		},
		Store: Store{Driver: DefaultStoreDriver, MaxConns: DefaultMaxConns},
		Security: Security{
			StateKeys:      []Key{{ID: DefaultStateKeyID}},
			EncryptionKeys: []Key{{ID: DefaultEncryptionKeyID}},
			RateLimits: RateLimits{
				App:                Rate{Per: DefaultAppRatePer, Events: DefaultAppRateEvents},
				Burst:              DefaultAppBurst,
				Browser:            Rate{Per: DefaultBrowserRatePer, Events: DefaultBrowserRateEvents},
				Sessions:           Rate{Per: DefaultSessionRatePer, Events: DefaultSessionRateEvents},
				Events:             Rate{Per: DefaultEventsRatePer, Events: DefaultEventsRateEvents},
				MaxPendingSessions: DefaultMaxPendingSessions,
			},
		},
		Cache: Cache{
			Tokens:       DefaultCacheTokens,
			Apps:         DefaultCacheApps,
			ExpiryMargin: Duration(DefaultExpiryMargin),
		},
		Proxy: Proxy{
			Timeout:                Duration(DefaultProxyTimeout),
			ResponseHeaderTimeout:  Duration(DefaultResponseHeaderTimeout),
			MaxRequestBody:         DefaultMaxRequestBody,
			RetryBodyLimit:         DefaultRetryBodyLimit,
			MaxResponseHeaderBytes: DefaultMaxResponseHeaderBytes,
		},
		Refresh: Refresh{KeepAlive: KeepAlive{
			Enabled:   DefaultKeepAliveEnabled,
			Interval:  Duration(DefaultKeepAliveInterval),
			IdleAfter: Duration(DefaultKeepAliveIdleAfter),
		}, LeaseTTL: Duration(DefaultRefreshLeaseTTL), RejectedCooldown: Duration(DefaultRejectedCooldown)},
		Log:       Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Telemetry: Telemetry{OTLP: OTLP{Protocol: DefaultOTLPProtocol}, Prometheus: DefaultPrometheus},
		Webhooks: Webhooks{
			Timeout:         Duration(DefaultWebhookTimeout),
			Concurrency:     DefaultWebhookConcurrency,
			PollInterval:    Duration(DefaultWebhookPollInterval),
			SecretGrace:     Duration(DefaultWebhookSecretGrace),
			Retention:       Duration(DefaultWebhookRetention),
			FailedRetention: Duration(DefaultWebhookFailedRetention),
		},
		Demo: DefaultDemo,
	}
}

// SQLitePath is the SQLite database file: store.dsn when set, otherwise
// {server.dataDir}/broker.db.
func (c *Config) SQLitePath() string {
	if c.Store.DSN != "" {
		return c.Store.DSN
	}
	return filepath.Join(c.Server.DataDir, DefaultSQLiteFile)
}
