package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/oauthbroker/broker/broker/secrets"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DecodeSecret returns the HMAC key of a whsec_ secret (the base64 after the
// prefix), as every Standard Webhooks library reads it.
func DecodeSecret(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secrets.WebhookSecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: a signing secret starts with " + secrets.WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhooks: a signing secret is whsec_ and base64")
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one message: one
// "v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>" per key, separated by
// spaces (the new key first while a rotated one is still in its grace).
func Sign(id string, ts time.Time, body []byte, keys ...[]byte) string {
	var b strings.Builder
	unix := strconv.FormatInt(ts.Unix(), 10)
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(unix))
		mac.Write([]byte{'.'})
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}
