package state

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzVerify: Verify never panics, and never accepts a token that is not an
// HS256 JWT of type broker-state+jwt signed by a key of the ring (checked
// here independently of golang-jwt). Seeds live in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	keys := []Key{{ID: "s1", Secret: secret1}, {ID: "s0", Secret: secret2}}
	s := newSigner(f, fixed(t0), keys...)
	good, _ := s.Sign(testClaims)
	f.Add(good)
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token)
		if err != nil {
			if strings.Contains(err.Error(), token) && len(token) > 8 {
				t.Fatalf("error repeats the token: %q", err)
			}
			return
		}
		if c.SessionID == "" || c.Provider == "" || c.App == "" {
			t.Fatalf("accepted with empty claims: %+v", c)
		}
		if !signedByRing(token, keys) {
			t.Fatalf("accepted a token not signed by the ring: %q", token)
		}
	})
}

// signedByRing is the oracle: header checks and the HMAC, by hand.
func signedByRing(token string, keys []Key) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > MaxStateLen {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil || h.Alg != "HS256" || h.Typ != Type {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.ID != h.Kid {
			continue
		}
		m := hmac.New(sha256.New, k.Secret)
		m.Write([]byte(parts[0] + "." + parts[1]))
		return hmac.Equal(m.Sum(nil), sig)
	}
	return false
}
