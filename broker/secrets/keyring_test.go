package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustRing(t testing.TB, keys ...Key) *KeyRing {
	t.Helper()
	r, err := NewKeyRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewKeyRingRejects(t *testing.T) {
	tests := []struct {
		name string
		keys []Key
		want string
	}{
		{"no keys", nil, "at least one key"},
		{"short key", []Key{{ID: "k1", Key: testKey(1)[:16]}}, "must be 32 bytes, got 16"},
		{"long key", []Key{{ID: "k1", Key: append(testKey(1), 0)}}, "must be 32 bytes, got 33"},
		{"empty id", []Key{{ID: "", Key: testKey(1)}}, "1 to 32 characters"},
		{"long id", []Key{{ID: strings.Repeat("a", 33), Key: testKey(1)}}, "1 to 32 characters"},
		{"colon in id", []Key{{ID: "k:1", Key: testKey(1)}}, "only letters"},
		{"space in id", []Key{{ID: "k 1", Key: testKey(1)}}, "only letters"},
		{"duplicate id", []Key{{ID: "k1", Key: testKey(1)}, {ID: "k1", Key: testKey(2)}}, "duplicate id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyRing(tt.keys...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "secrets: ") {
				t.Errorf("err %q lacks the package prefix", err)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	r := mustRing(t, Key{ID: "e1", Key: testKey(1)})
	for _, pt := range [][]byte{nil, []byte("x"), []byte(`{"access_token":"ya29.secret"}`), bytes.Repeat([]byte("a"), 1<<16)} {
		ct, err := r.Encrypt(pt, []byte("con_1"))
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 4 && bytes.Contains(ct, pt) {
			t.Fatal("ciphertext contains the plaintext")
		}
		got, err := r.Decrypt(ct, []byte("con_1"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip changed %d bytes of plaintext", len(pt))
		}
		if id, err := KeyID(ct); err != nil || id != "e1" {
			t.Fatalf("KeyID = %q, %v", id, err)
		}
	}
}

func TestRotation(t *testing.T) {
	old := mustRing(t, Key{ID: "e1", Key: testKey(1)})
	ct, err := old.Encrypt([]byte("refresh-token"), []byte("con_1"))
	if err != nil {
		t.Fatal(err)
	}
	// The operator puts a new key first; the old one stays to decrypt.
	rotated := mustRing(t, Key{ID: "e2", Key: testKey(2)}, Key{ID: "e1", Key: testKey(1)})
	if rotated.PrimaryID() != "e2" {
		t.Fatalf("PrimaryID = %q", rotated.PrimaryID())
	}
	got, err := rotated.Decrypt(ct, []byte("con_1"))
	if err != nil || string(got) != "refresh-token" {
		t.Fatalf("rotated-out key no longer decrypts: %q, %v", got, err)
	}
	if !rotated.NeedsRotation(ct) {
		t.Error("a ciphertext under e1 does not report NeedsRotation under primary e2")
	}
	re, err := rotated.Encrypt(got, []byte("con_1"))
	if err != nil {
		t.Fatal(err)
	}
	if rotated.NeedsRotation(re) {
		t.Error("a ciphertext under the primary reports NeedsRotation")
	}
	if !rotated.NeedsRotation([]byte("garbage")) {
		t.Error("an unreadable blob does not report NeedsRotation")
	}
	// Once e1 is removed the old row is an unknown key, not a crash.
	onlyNew := mustRing(t, Key{ID: "e2", Key: testKey(2)})
	if _, err := onlyNew.Decrypt(ct, []byte("con_1")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}

func TestDecryptRejects(t *testing.T) {
	r := mustRing(t, Key{ID: "e1", Key: testKey(1)}, Key{ID: "e0", Key: testKey(9)})
	aad := []byte("con_1")
	ct, err := r.Encrypt([]byte("secret token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), ct...)) }
	hdr := 2 + len("e1")
	tests := []struct {
		name string
		ct   []byte
		aad  []byte
		want error
	}{
		{"flipped bit in body", mutate(func(b []byte) []byte { b[len(b)-20] ^= 1; return b }), aad, ErrDecrypt},
		{"flipped bit in tag", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), aad, ErrDecrypt},
		{"flipped bit in nonce", mutate(func(b []byte) []byte { b[hdr] ^= 1; return b }), aad, ErrDecrypt},
		{"key id switched to another ring key", mutate(func(b []byte) []byte { b[3] = '0'; return b }), aad, ErrDecrypt},
		{"wrong aad", ct, []byte("con_2"), ErrDecrypt},
		{"empty aad", ct, nil, ErrDecrypt},
		{"unknown key id", mutate(func(b []byte) []byte { b[3] = '7'; return b }), aad, ErrUnknownKey},
		{"unknown version", mutate(func(b []byte) []byte { b[0] = 2; return b }), aad, ErrMalformed},
		{"zero id length", mutate(func(b []byte) []byte { b[1] = 0; return b }), aad, ErrMalformed},
		{"id length past the end", mutate(func(b []byte) []byte { b[1] = 255; return b }), aad, ErrMalformed},
		{"truncated to header", ct[:hdr], aad, ErrMalformed},
		{"truncated inside tag", ct[:hdr+nonceSize+tagSize-1], aad, ErrMalformed},
		{"truncated by one", ct[:len(ct)-1], aad, ErrDecrypt},
		{"empty", nil, aad, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := r.Decrypt(tt.ct, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			if strings.Contains(err.Error(), "secret token") || !strings.HasPrefix(err.Error(), "secrets: ") {
				t.Fatalf("bad error text %q", err)
			}
		})
	}
}

func TestNoncesAreUnique(t *testing.T) {
	r := mustRing(t, Key{ID: "e1", Key: testKey(1)})
	seen := make(map[string]bool)
	for range 10000 {
		ct, err := r.Encrypt([]byte("same"), []byte("same"))
		if err != nil {
			t.Fatal(err)
		}
		n := string(ct[4 : 4+nonceSize])
		if seen[n] {
			t.Fatal("nonce repeated")
		}
		seen[n] = true
	}
}

func TestGenerateAndParseKey(t *testing.T) {
	k1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := GenerateKey()
	if k1 == k2 {
		t.Fatal("two generated keys are equal")
	}
	raw, err := ParseKey(k1)
	if err != nil || len(raw) != KeySize {
		t.Fatalf("ParseKey(generated) = %d bytes, %v", len(raw), err)
	}
	if _, err := NewKeyRing(Key{ID: "e1", Key: raw}); err != nil {
		t.Fatal(err)
	}
	valid := testKey(0xfb)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(valid),
		base64.RawStdEncoding.EncodeToString(valid),
		base64.URLEncoding.EncodeToString(valid),
		" " + base64.StdEncoding.EncodeToString(valid) + "\n",
	} {
		if got, err := ParseKey(s); err != nil || !bytes.Equal(got, valid) {
			t.Errorf("ParseKey(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(valid[:31]), base64.StdEncoding.EncodeToString(append(valid, 1))} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q repeats the key", err)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	r := mustRing(b, Key{ID: "e1", Key: testKey(1)})
	pt := bytes.Repeat([]byte("t"), 512) // a typical token set
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := r.Encrypt(pt, []byte("con_01234567890123456789012345")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	r := mustRing(b, Key{ID: "e1", Key: testKey(1)})
	pt := bytes.Repeat([]byte("t"), 512)
	aad := []byte("con_01234567890123456789012345")
	ct, _ := r.Encrypt(pt, aad)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := r.Decrypt(ct, aad); err != nil {
			b.Fatal(err)
		}
	}
}
