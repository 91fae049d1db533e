package broker

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/postgres"
	"github.com/oauthbroker/broker/broker/store/sqlite"
	"github.com/oauthbroker/broker/config"
)

// OpenStore opens the backend chosen by store.driver. It is the only place
// that does (docs/architecture.md). logger receives the store's notices
// (PostgreSQL's change-feed reconnects); nil = none.
func OpenStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		return postgres.Open(ctx, cfg.Store.DSN, postgres.Options{MaxConns: cfg.Store.MaxConns, Logger: logger})
	case "sqlite", "":
		return sqlite.Open(ctx, cfg.SQLitePath(), sqlite.Options{})
	default:
		return nil, fmt.Errorf("broker: unknown store.driver %q", cfg.Store.Driver)
	}
}

// KeyRing builds the encryption key ring from security.encryptionKeys (the
// first key is the primary).
func KeyRing(cfg *config.Config) (*secrets.KeyRing, error) {
	keys := make([]secrets.Key, 0, len(cfg.Security.EncryptionKeys))
	for i, k := range cfg.Security.EncryptionKeys {
		raw, err := base64.StdEncoding.DecodeString(k.Key)
		if err != nil {
			return nil, fmt.Errorf("broker: security.encryptionKeys[%d].key: not base64", i)
		}
		keys = append(keys, secrets.Key{ID: k.ID, Key: raw})
	}
	return secrets.NewKeyRing(keys...)
}

// StateSigner builds the JWT state signer from security.stateKeys; the
// issuer is the broker's public URL and the audience its callback.
func StateSigner(cfg *config.Config) (*state.Signer, error) {
	keys := make([]state.Key, 0, len(cfg.Security.StateKeys))
	for _, k := range cfg.Security.StateKeys {
		keys = append(keys, state.Key{ID: k.ID, Secret: []byte(k.Secret)})
	}
	pub := strings.TrimRight(cfg.Server.PublicURL, "/")
	return state.NewSigner(state.Options{Keys: keys, Issuer: pub, Audience: pub + "/oauth/callback"})
}

// NewLogger builds the slog logger from the log section, writing to w (the
// CLI passes its stderr; nothing is chosen for the caller).
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// cursorKey is the HMAC key of /v1/events cursors, derived from the newest
// state key so every replica of one configuration accepts the others'
// cursors, and a cursor reveals nothing of the key (docs/api.md, events).
func cursorKey(cfg *config.Config) []byte {
	m := hmac.New(sha256.New, nil)
	if len(cfg.Security.StateKeys) > 0 {
		m = hmac.New(sha256.New, []byte(cfg.Security.StateKeys[0].Secret))
	}
	m.Write([]byte("broker events cursor v1"))
	return m.Sum(nil)
}
