package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/oauthbroker/broker/broker/secrets"
)

// The test vector published with the Standard Webhooks specification
// (spec/standard-webhooks.md, "Signature scheme"; also its libraries' tests).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationsTestVector(t *testing.T) {
	key, err := DecodeSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody), key); got != vectorSignature {
		t.Fatalf("signature = %q, want the published %q", got, vectorSignature)
	}
}

// During a rotation's grace both secrets sign: a receiver holding either
// one verifies the delivery with the reference library, and one holding
// neither does not.
func TestSignWithTwoSecretsVerifiesWithEither(t *testing.T) {
	oldSecret, newSecret := secrets.NewWebhookSecret(), secrets.NewWebhookSecret()
	oldKey, _ := DecodeSecret(oldSecret)
	newKey, err := DecodeSecret(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now()
	body := []byte(`{"type":"connection.created","timestamp":"2026-01-02T03:04:05Z","data":{}}`)
	sig := Sign("whk_1", ts, body, newKey, oldKey)
	if parts := strings.Split(sig, " "); len(parts) != 2 || !strings.HasPrefix(parts[0], "v1,") || !strings.HasPrefix(parts[1], "v1,") {
		t.Fatalf("signature header %q: want two space-separated v1 signatures", sig)
	}
	h := http.Header{}
	h.Set(HeaderID, "whk_1")
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	for name, s := range map[string]string{"new secret": newSecret, "old secret": oldSecret} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("%s: reference library refuses the delivery: %v", name, err)
		}
	}
	other, _ := standardwebhooks.NewWebhook(secrets.NewWebhookSecret())
	if err := other.Verify(body, h); err == nil {
		t.Error("a third secret verified the delivery")
	}
	tampered := append([]byte(nil), body...)
	tampered[10] = 'X'
	wh, _ := standardwebhooks.NewWebhook(newSecret)
	if err := wh.Verify(tampered, h); err == nil {
		t.Error("a changed body verified")
	}
}

func TestDecodeSecretRefusesOtherForms(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whs_abc", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"} {
		if _, err := DecodeSecret(s); err == nil {
			t.Errorf("DecodeSecret(%q) accepted it", s)
		}
	}
}
