package secrets

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"strings"
	"testing"
)

const testAppID = "app_abcdefghijklmnopqrstuvwxyz"

func TestNewAppSecret(t *testing.T) {
	s1, h1, err := NewAppSecret(testAppID)
	if err != nil {
		t.Fatal(err)
	}
	s2, _, _ := NewAppSecret(testAppID)
	if s1 == s2 {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(s1, "bks_abcdefghijklmnopqrstuvwxyz_") {
		t.Fatalf("secret %q does not name its app", s1[:10])
	}
	random := s1[len("bks_abcdefghijklmnopqrstuvwxyz_"):]
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(random))
	if err != nil || len(raw) < 32 {
		t.Fatalf("random part decodes to %d bytes (%v), want at least 32 (256 bits)", len(raw), err)
	}
	if !bytes.Equal(h1, HashAppSecret(s1)) {
		t.Fatal("returned hash is not HashAppSecret(secret)")
	}
	if bytes.Contains(h1, []byte(s1)) {
		t.Fatal("hash contains the secret")
	}
	for _, bad := range []string{"", "app_", "con_abcdefghijklmnopqrstuvwxyz", "app_ABCDEFGHIJKLMNOPQRSTUVWXYZ", "app_abcdefghijklmnopqrstuvwxy", "app_abcdefghijklmnopqrstuvwx1"} {
		if _, _, err := NewAppSecret(bad); err == nil {
			t.Errorf("NewAppSecret(%q) accepted", bad)
		}
	}
}

func TestAppIDFromSecret(t *testing.T) {
	good, _, _ := NewAppSecret(testAppID)
	tests := []struct {
		name   string
		secret string
		want   string
	}{
		{"generated", good, testAppID},
		{"empty", "", ""},
		{"webhook secret", NewWebhookSecret(), ""},
		{"no prefix", strings.TrimPrefix(good, "bks_"), ""},
		{"upper case", strings.ToUpper(good), ""},
		{"one short", good[:len(good)-1], ""},
		{"one long", good + "a", ""},
		{"bad separator", good[:30] + "-" + good[31:], ""},
		{"non base32 char", good[:len(good)-1] + "1", ""},
		{"injection", "bks_abcdefghijklmnopqrstuvwx'; --_" + strings.Repeat("a", 52), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := AppIDFromSecret(tt.secret)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("AppIDFromSecret = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestVerifyAppSecret(t *testing.T) {
	s, h, _ := NewAppSecret(testAppID)
	other, _, _ := NewAppSecret(testAppID)
	tests := []struct {
		name   string
		secret string
		hash   []byte
		want   bool
	}{
		{"right secret", s, h, true},
		{"other secret of the same app", other, h, false},
		{"last char changed", s[:len(s)-1] + "b", h, false},
		{"empty secret", "", h, false},
		{"empty hash", s, nil, false},
		{"truncated hash", s, h[:16], false},
		{"dummy hash", s, DummyHash, false},
		{"empty secret against dummy", "", DummyHash, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyAppSecret(tt.secret, tt.hash); got != tt.want {
				t.Fatalf("VerifyAppSecret = %v, want %v", got, tt.want)
			}
		})
	}
	if len(DummyHash) != len(h) {
		t.Fatalf("DummyHash is %d bytes, a real hash %d: a miss would compare differently", len(DummyHash), len(h))
	}
}

func TestNewWebhookSecret(t *testing.T) {
	a, b := NewWebhookSecret(), NewWebhookSecret()
	if a == b {
		t.Fatal("two webhook secrets are equal")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if !strings.HasPrefix(a, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("webhook secret has the wrong shape (length %d): want whsec_ and base64 of 32 bytes", len(a))
	}
}

func BenchmarkVerifyAppSecret(b *testing.B) {
	s, h, _ := NewAppSecret(testAppID)
	for b.Loop() {
		if !VerifyAppSecret(s, h) {
			b.Fatal("mismatch")
		}
	}
}
