package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
)

// Prefixes make a leaked secret recognisable (secret scanners, log review)
// and tell the two kinds apart.
const (
	AppSecretPrefix     = "bks_"
	WebhookSecretPrefix = "whsec_" // Standard Webhooks' own prefix
)

const (
	appIDPrefix   = "app_"
	appIDSuffix   = 26 // model.NewID: 128 bits in lower-case base32
	secretBytes   = 32 // 256 random bits
	secretEncoded = 52 // base32 of 32 bytes, no padding
)

// b32 is the alphabet of model ids, lower-cased after encoding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomPart returns 256 random bits as 52 lower-case base32 characters.
func randomPart() string {
	b := make([]byte, secretBytes)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+); it
	// crashes the program rather than return predictable bytes.
	_, _ = rand.Read(b)
	return strings.ToLower(b32.EncodeToString(b))
}

// NewAppSecret makes a client secret for appID (an id of the form
// app_<26 base32 chars>) and returns it with its hash. The secret is shown
// to the admin once; only the hash is stored. The secret embeds the app id's
// suffix, so authentication finds the app with one indexed read
// (AppIDFromSecret) before comparing hashes.
//
// Format: bks_<app id suffix>_<52 chars: 256 random bits in base32>.
func NewAppSecret(appID string) (secret string, hash []byte, err error) {
	suffix, ok := strings.CutPrefix(appID, appIDPrefix)
	if !ok || !isB32(suffix, appIDSuffix) {
		return "", nil, fmt.Errorf("secrets: app id %q is not of the form app_<26 base32 characters>", appID)
	}
	secret = AppSecretPrefix + suffix + "_" + randomPart()
	return secret, HashAppSecret(secret), nil
}

// AppIDFromSecret returns the app id a well-formed secret names. ok is false
// for anything else, so garbage never reaches the store.
func AppIDFromSecret(secret string) (appID string, ok bool) {
	rest, ok := strings.CutPrefix(secret, AppSecretPrefix)
	if !ok || len(rest) != appIDSuffix+1+secretEncoded || rest[appIDSuffix] != '_' {
		return "", false
	}
	if !isB32(rest[:appIDSuffix], appIDSuffix) || !isB32(rest[appIDSuffix+1:], secretEncoded) {
		return "", false
	}
	return appIDPrefix + rest[:appIDSuffix], true
}

// HashAppSecret hashes a secret for storage. A plain SHA-256 is the right
// tool here, not bcrypt or argon2: those slow down guessing of low-entropy
// passwords, but a secret of 256 uniformly random bits cannot be guessed
// whatever the hash speed, and a slow hash on every API call would cost CPU
// on each request and hand an attacker a cheap way to load the broker.
func HashAppSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// VerifyAppSecret reports whether secret matches the stored hash, in time
// that does not depend on where they differ.
func VerifyAppSecret(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashAppSecret(secret), hash) == 1
}

// DummyHash is compared against when no app matches a secret, so a miss
// costs the same as a wrong secret and timing does not reveal which app ids
// exist. No secret hashes to it (it is the hash of a value no secret can
// take). Do not modify it.
var DummyHash = HashAppSecret("dummy: not a secret " + randomPart())

// WebhookKeyBytes is the size of a webhook signing key: Standard Webhooks
// asks for 24 to 64 bytes.
const WebhookKeyBytes = 32

// NewWebhookSecret returns a webhook signing secret in the Standard Webhooks
// form: whsec_ and the base64 of 32 random bytes, which every Standard
// Webhooks library takes as is (docs/webhooks.md). The broker needs it in
// clear to sign deliveries, so the caller stores it encrypted with the
// KeyRing, not hashed.
func NewWebhookSecret() string {
	b := make([]byte, WebhookKeyBytes)
	_, _ = rand.Read(b) // never fails; see randomPart
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// isB32 reports whether s is n characters of lower-case base32.
func isB32(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
