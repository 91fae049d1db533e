package broker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/config"
)

// DevSecretsFile is where development secrets live, inside server.dataDir.
const DevSecretsFile = "dev-secrets.json"

type devSecretsFile struct {
	StateKey      string `json:"stateKey"`
	EncryptionKey string `json:"encryptionKey"`
	AdminToken    string `json:"adminToken"`
}

// DevSecrets says what FillDevSecrets did.
type DevSecrets struct {
	// Path is the development secrets file.
	Path string
	// InUse: at least one secret of the config came from it.
	InUse bool
	// Created: the file was generated just now.
	Created bool
	// NewAdminToken is the development admin token when it was generated
	// just now and is in use: the caller shows it once, on the terminal of
	// the developer who started the broker (the CLI: its stderr), and
	// never logs it. Nothing here writes it anywhere.
	NewAdminToken string
}

// PrepareSecrets is FillDevSecrets for a server start: it warns once on
// logger when development keys are in use. One-shot commands call
// FillDevSecrets and say something only when keys were generated.
func PrepareSecrets(cfg *config.Config, logger *slog.Logger) error {
	dev, err := FillDevSecrets(cfg)
	if err != nil {
		return err
	}
	if dev.InUse && logger != nil {
		WarnDevSecrets(logger, dev)
	}
	return nil
}

// WarnDevSecrets is the loud warning that development keys are in use.
func WarnDevSecrets(logger *slog.Logger, dev DevSecrets) {
	logger.Warn("DEVELOPMENT KEYS IN USE: state, encryption and admin secrets come from "+dev.Path+
		"; never use them in production (set server.production: true to refuse them)", "file", dev.Path)
}

// FillDevSecrets fills every empty key and the empty admin token from the
// development secrets file, creating it (mode 0600) on first use, so a fresh
// clone serves with no environment at all. In production an empty secret is
// an error instead: development keys are never used there.
func FillDevSecrets(cfg *config.Config) (DevSecrets, error) {
	missing := cfg.Security.AdminToken == ""
	for _, k := range cfg.Security.StateKeys {
		missing = missing || k.Secret == ""
	}
	for _, k := range cfg.Security.EncryptionKeys {
		missing = missing || k.Key == ""
	}
	if len(cfg.Security.StateKeys) == 0 || len(cfg.Security.EncryptionKeys) == 0 {
		missing = true
	}
	if !missing {
		return DevSecrets{}, nil
	}
	if cfg.Server.Production {
		return DevSecrets{}, errors.New("broker: production refuses development keys: set security.adminToken, security.stateKeys and security.encryptionKeys")
	}
	path := filepath.Join(cfg.Server.DataDir, DevSecretsFile)
	dev, created, err := loadOrCreateDevSecrets(path)
	if err != nil {
		return DevSecrets{}, err
	}
	if len(cfg.Security.StateKeys) == 0 {
		cfg.Security.StateKeys = []config.Key{{ID: "dev"}}
	}
	if len(cfg.Security.EncryptionKeys) == 0 {
		cfg.Security.EncryptionKeys = []config.Key{{ID: "dev"}}
	}
	for i := range cfg.Security.StateKeys {
		if cfg.Security.StateKeys[i].Secret == "" {
			cfg.Security.StateKeys[i].Secret = dev.StateKey
		}
	}
	for i := range cfg.Security.EncryptionKeys {
		if cfg.Security.EncryptionKeys[i].Key == "" {
			cfg.Security.EncryptionKeys[i].Key = dev.EncryptionKey
		}
	}
	out := DevSecrets{Path: path, InUse: true, Created: created}
	if cfg.Security.AdminToken == "" {
		cfg.Security.AdminToken = dev.AdminToken
		if created {
			out.NewAdminToken = dev.AdminToken
		}
	}
	return out, nil
}

func loadOrCreateDevSecrets(path string) (devSecretsFile, bool, error) {
	var dev devSecretsFile
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &dev); err != nil || dev.StateKey == "" || dev.EncryptionKey == "" || dev.AdminToken == "" {
			return dev, false, fmt.Errorf("broker: %s is damaged; delete it to generate new development keys (stored tokens will be lost)", path)
		}
		return dev, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return dev, false, fmt.Errorf("broker: read development secrets: %w", err)
	}
	dev = devSecretsFile{
		StateKey:      randomB64(32),
		EncryptionKey: randomB64(32),
		AdminToken:    "bka_" + model.RandomToken(32),
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return dev, false, fmt.Errorf("broker: create data directory: %w", err)
	}
	b, _ = json.MarshalIndent(dev, "", "  ")
	// Written to a temporary file and linked into place: two processes
	// starting together never see a half-written file, and the loser of the
	// link reads the winner's keys instead of overwriting them.
	tmp := fmt.Sprintf("%s.%s.tmp", path, model.RandomToken(6))
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return dev, false, fmt.Errorf("broker: write development secrets: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateDevSecrets(path)
		}
		return dev, false, fmt.Errorf("broker: write development secrets: %w", err)
	}
	return dev, true, nil
}

func randomB64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("broker: crypto/rand failed: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}
