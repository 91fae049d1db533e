package state

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	t0      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	secret1 = []byte("s1-0123456789abcdef0123456789abcdef")
	secret2 = []byte("s2-0123456789abcdef0123456789abcdef")
)

func newSigner(t testing.TB, now func() time.Time, keys ...Key) *Signer {
	t.Helper()
	if len(keys) == 0 {
		keys = []Key{{ID: "s1", Secret: secret1}}
	}
	s, err := NewSigner(Options{Keys: keys, Issuer: "https://broker.test", Audience: "https://broker.test/oauth/callback", TTL: 5 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

var testClaims = Claims{SessionID: "ses_abc", Provider: "google", App: "app_xyz"}

// forge builds a token by hand, as an attacker would.
func forge(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sid": "ses_abc", "prv": "google", "app": "app_xyz",
		"iss": "https://broker.test", "aud": "https://broker.test/oauth/callback",
		"iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix(),
	}
}

func goodHeader() map[string]any { return map[string]any{"kid": "s1", "typ": Type} }

func with[M ~map[string]any](m M, k string, v any) M {
	out := M{}
	for a, b := range m {
		out[a] = b
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestNewSignerRejects(t *testing.T) {
	good := []Key{{ID: "s1", Secret: secret1}}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no keys", Options{Issuer: "i", Audience: "a"}, "at least one key"},
		{"short secret", Options{Keys: []Key{{ID: "s1", Secret: []byte("short")}}, Issuer: "i", Audience: "a"}, "at least 32 bytes"},
		{"empty kid", Options{Keys: []Key{{Secret: secret1}}, Issuer: "i", Audience: "a"}, "id must be"},
		{"duplicate kid", Options{Keys: []Key{{ID: "s1", Secret: secret1}, {ID: "s1", Secret: secret2}}, Issuer: "i", Audience: "a"}, "duplicate"},
		{"no issuer", Options{Keys: good, Audience: "a"}, "issuer and audience"},
		{"no audience", Options{Keys: good, Issuer: "i"}, "issuer and audience"},
		{"ttl over ten minutes", Options{Keys: good, Issuer: "i", Audience: "a", TTL: 11 * time.Minute}, "ttl"},
		{"negative ttl", Options{Keys: good, Issuer: "i", Audience: "a", TTL: -time.Second}, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSigner(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "state: ") {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), string(secret1)) {
				t.Fatal("error contains the secret")
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	s := newSigner(t, fixed(t0))
	tok, err := s.Sign(testClaims)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 400 {
		t.Errorf("state is %d bytes; keep it short", len(tok))
	}
	got, err := s.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.SessionID != "ses_abc" || got.Provider != "google" || got.App != "app_xyz" {
		t.Fatalf("claims = %+v", got)
	}
	if !got.IssuedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("times = %v, %v", got.IssuedAt, got.ExpiresAt)
	}
	// Still valid just before expiry, from another replica a little behind.
	if _, err := newSigner(t, fixed(t0.Add(-10*time.Second))).Verify(tok); err != nil {
		t.Fatalf("clock skew of 10s: %v", err)
	}
	if _, err := newSigner(t, fixed(t0.Add(5*time.Minute-time.Second))).Verify(tok); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	for _, want := range []string{`"typ":"broker-state+jwt"`, `"kid":"s1"`, `"alg":"HS256"`} {
		if !strings.Contains(string(header), want) {
			t.Errorf("header %s lacks %s", header, want)
		}
	}
	if _, err := s.Sign(Claims{SessionID: "ses_1", Provider: "google"}); err == nil {
		t.Error("Sign accepted claims without an app")
	}
}

func TestDefaultTTLIsMax(t *testing.T) {
	s, err := NewSigner(Options{Keys: []Key{{ID: "s1", Secret: secret1}}, Issuer: "i", Audience: "a", Now: fixed(t0)})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.Sign(testClaims)
	c, err := s.Verify(tok)
	if err != nil || c.ExpiresAt.Sub(c.IssuedAt) != MaxTTL {
		t.Fatalf("lifetime = %v, %v", c.ExpiresAt.Sub(c.IssuedAt), err)
	}
}

func TestRotation(t *testing.T) {
	old := newSigner(t, fixed(t0), Key{ID: "s1", Secret: secret1})
	tok, _ := old.Sign(testClaims)
	// s2 is the new signing key; s1 still verifies states in flight.
	rotated := newSigner(t, fixed(t0), Key{ID: "s2", Secret: secret2}, Key{ID: "s1", Secret: secret1})
	if _, err := rotated.Verify(tok); err != nil {
		t.Fatalf("state under the second key of the ring: %v", err)
	}
	fresh, _ := rotated.Sign(testClaims)
	if !strings.Contains(decodeHeader(t, fresh), `"kid":"s2"`) {
		t.Fatal("rotated signer does not sign with its first key")
	}
	if _, err := old.Verify(fresh); err == nil {
		t.Fatal("a signer without s2 accepted a state signed by s2")
	}
}

func decodeHeader(t *testing.T, tok string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestVerifyRejects(t *testing.T) {
	s := newSigner(t, fixed(t0), Key{ID: "s1", Secret: secret1}, Key{ID: "s0", Secret: secret2})
	good, _ := s.Sign(testClaims)
	parts := strings.Split(good, ".")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	attackerKey := []byte("attacker-0123456789abcdef0123456789")
	tamperedPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"ses_other","prv":"google","app":"app_xyz","iss":"https://broker.test","aud":"https://broker.test/oauth/callback","iat":1767322945,"exp":1767323245}`))

	tests := []struct {
		name  string
		token string
		now   time.Time
		want  string
	}{
		{"expired", good, t0.Add(5*time.Minute + Leeway + time.Second), "expired"},
		{"issued in the future", good, t0.Add(-Leeway - time.Minute), "future"},
		{"wrong issuer", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "iss", "https://evil.test")), t0, "issuer"},
		{"no issuer", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "iss", nil)), t0, "missing claims"},
		{"wrong audience", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "aud", "https://other.test")), t0, "audience"},
		{"no exp", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "exp", nil)), t0, "missing"},
		{"no iat", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "iat", nil)), t0, "missing"},
		{"no sid", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "sid", nil)), t0, "missing"},
		{"lifetime over ten minutes", forge(t, jwt.SigningMethodHS256, secret1, goodHeader(), with(goodClaims(), "exp", t0.Add(time.Hour).Unix())), t0, "lifetime"},
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodHeader(), goodClaims()), t0, "three parts"},
		{"alg none with the real signature", func() string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"s1","typ":"broker-state+jwt"}`))
			return h + "." + parts[1] + "." + parts[2]
		}(), t0, "signature"},
		{"RS256", forge(t, jwt.SigningMethodRS256, rsaKey, goodHeader(), goodClaims()), t0, "signature"},
		{"HS512 with the ring key", forge(t, jwt.SigningMethodHS512, secret1, goodHeader(), goodClaims()), t0, "signature"},
		{"HS384 with the ring key", forge(t, jwt.SigningMethodHS384, secret1, goodHeader(), goodClaims()), t0, "signature"},
		{"unknown kid", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "kid", "s9"), goodClaims()), t0, "unknown kid"},
		{"no kid", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "kid", nil), goodClaims()), t0, "unknown kid"},
		{"numeric kid", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "kid", 1), goodClaims()), t0, "unknown kid"},
		{"re-signed with another key", forge(t, jwt.SigningMethodHS256, attackerKey, goodHeader(), goodClaims()), t0, "signature"},
		{"signed with s0 but claims kid s1", forge(t, jwt.SigningMethodHS256, secret2, goodHeader(), goodClaims()), t0, "signature"},
		{"jku header", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "jku", "https://evil.test/jwks"), goodClaims()), t0, "forbidden header"},
		{"jwk header", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "jwk", map[string]any{"kty": "oct", "k": "AAAA"}), goodClaims()), t0, "forbidden header"},
		{"x5u header", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "x5u", "https://evil.test/cert"), goodClaims()), t0, "forbidden header"},
		{"tampered payload", parts[0] + "." + tamperedPayload + "." + parts[2], t0, "signature"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), t0, "signature"},
		{"typ missing", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "typ", nil), goodClaims()), t0, "typ"},
		{"typ JWT", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "typ", "JWT"), goodClaims()), t0, "typ"},
		{"typ access token", forge(t, jwt.SigningMethodHS256, secret1, with(goodHeader(), "typ", "at+jwt"), goodClaims()), t0, "typ"},
		{"oversized", parts[0] + "." + strings.Repeat("A", MaxStateLen) + "." + parts[2], t0, "too long"},
		{"empty", "", t0, "empty"},
		{"two parts", parts[0] + "." + parts[1], t0, "three parts"},
		{"four parts", good + ".x", t0, "three parts"},
		{"empty signature", parts[0] + "." + parts[1] + ".", t0, "three parts"},
		{"empty middle", parts[0] + ".." + parts[2], t0, "empty part"},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], t0, "base64url"},
		{"standard base64", parts[0] + "+/." + parts[1] + "." + parts[2], t0, "base64url"},
		{"space", good + " ", t0, "base64url"},
		{"garbage", "not-a-jwt", t0, "three parts"},
		{"base64 garbage", "aGVsbG8.d29ybGQ.IQ", t0, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newSigner(t, fixed(tt.now), Key{ID: "s1", Secret: secret1}, Key{ID: "s0", Secret: secret2})
			_, err := v.Verify(tt.token)
			if !errors.Is(err, ErrInvalidState) {
				t.Fatalf("err = %v, want ErrInvalidState", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to say %q", err, tt.want)
			}
			for _, p := range strings.Split(tt.token, ".") {
				if len(p) > 8 && strings.Contains(err.Error(), p) {
					t.Fatalf("error %q contains part of the token", err)
				}
			}
		})
	}
	if _, err := s.Verify(good); err != nil {
		t.Fatalf("the good token stopped verifying: %v", err)
	}
	_, err = newSigner(t, fixed(t0.Add(time.Hour))).Verify(good)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("an expired state does not wrap ErrExpired: %v", err)
	}
}

func flipLast(s string) string {
	b := []byte(s)
	if b[len(b)-2] == 'A' {
		b[len(b)-2] = 'B'
	} else {
		b[len(b)-2] = 'A'
	}
	return string(b)
}

func BenchmarkVerify(b *testing.B) {
	s := newSigner(b, fixed(t0))
	tok, _ := s.Sign(testClaims)
	for b.Loop() {
		if _, err := s.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
