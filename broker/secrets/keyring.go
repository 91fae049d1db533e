package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of an AES-256 key in bytes.
const KeySize = 32

// MaxKeyIDLen bounds a key id: it is stored in every ciphertext.
const MaxKeyIDLen = 32

// formatV1 is the first byte of every ciphertext. A new layout gets a new
// version, so old rows stay readable.
const formatV1 byte = 1

const (
	nonceSize = 12 // GCM standard nonce
	tagSize   = 16
)

// Errors returned by Decrypt and KeyID; they are wrapped with context.
var (
	// ErrMalformed: the blob is not a ciphertext of this package (truncated,
	// unknown version, bad key id).
	ErrMalformed = errors.New("secrets: malformed ciphertext")
	// ErrUnknownKey: the ciphertext names a key that is not in the ring.
	ErrUnknownKey = errors.New("secrets: unknown key id")
	// ErrDecrypt: authentication failed (tampered data, wrong additional
	// data, or a different key under the same id).
	ErrDecrypt = errors.New("secrets: decryption failed")
)

// Key is one named AES-256 key of a ring.
type Key struct {
	ID  string
	Key []byte
}

// KeyRing encrypts under its primary key and decrypts under any of its keys.
// It is safe for concurrent use.
type KeyRing struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// NewKeyRing builds a ring; the first key is the primary (it encrypts), the
// others only decrypt until `broker keys rotate` has re-encrypted their rows.
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("secrets: key ring needs at least one key")
	}
	r := &KeyRing{primary: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if err := validKeyID(k.ID); err != nil {
			return nil, fmt.Errorf("secrets: key %d: %w", i, err)
		}
		if len(k.Key) != KeySize {
			// The length is not secret; the bytes are, and are never printed.
			return nil, fmt.Errorf("secrets: key %q: must be %d bytes, got %d", k.ID, KeySize, len(k.Key))
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("secrets: key %q: duplicate id", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, fmt.Errorf("secrets: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: key %q: %w", k.ID, err)
		}
		r.aeads[k.ID] = aead
	}
	return r, nil
}

// validKeyID allows 1–32 characters of [A-Za-z0-9._-]: ids are shown in logs
// and CLI output and stored in every ciphertext, so they stay short and plain.
func validKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id must be 1 to %d characters", MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("key id %q: only letters, digits, '.', '_' and '-' are allowed", id)
		}
	}
	return nil
}

// PrimaryID is the id of the key new ciphertexts are made with.
func (r *KeyRing) PrimaryID() string { return r.primary }

// Encrypt seals plaintext under the primary key. aad is the additional data
// the ciphertext is bound to (the row's id), so a ciphertext copied into
// another row does not decrypt. The output is self-describing:
//
//	version(1) | len(keyID)(1) | keyID | nonce(12) | ciphertext+tag(16)
//
// Nonces are random: with 96-bit random nonces a key stays safe for about
// 2^32 encryptions, far more than one broker makes before rotating.
func (r *KeyRing) Encrypt(plaintext, aad []byte) ([]byte, error) {
	aead := r.aeads[r.primary]
	hdrLen := 2 + len(r.primary)
	out := make([]byte, hdrLen+nonceSize, hdrLen+nonceSize+len(plaintext)+tagSize)
	out[0] = formatV1
	out[1] = byte(len(r.primary))
	copy(out[2:], r.primary)
	nonce := out[hdrLen : hdrLen+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secrets: reading random nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, gcmAAD(out[:hdrLen], aad)), nil
}

// Decrypt opens a ciphertext made by Encrypt with the key it names, which may
// be any key of the ring. aad must be the one given to Encrypt.
func (r *KeyRing) Decrypt(ciphertext, aad []byte) ([]byte, error) {
	id, hdrLen, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	nonce := ciphertext[hdrLen : hdrLen+nonceSize]
	pt, err := aead.Open(nil, nonce, ciphertext[hdrLen+nonceSize:], gcmAAD(ciphertext[:hdrLen], aad))
	if err != nil {
		// cipher's message is generic too, but ours is fixed on purpose.
		return nil, fmt.Errorf("%w under key %q", ErrDecrypt, id)
	}
	return pt, nil
}

// NeedsRotation reports whether ciphertext is not under the primary key (or
// is not readable at all), i.e. whether `broker keys rotate` should
// re-encrypt it.
func (r *KeyRing) NeedsRotation(ciphertext []byte) bool {
	id, err := KeyID(ciphertext)
	return err != nil || id != r.primary
}

// KeyID returns the id of the key a ciphertext was made with, without
// decrypting it.
func KeyID(ciphertext []byte) (string, error) {
	id, _, err := parseHeader(ciphertext)
	return id, err
}

// parseHeader checks the layout and returns the key id and the header length.
func parseHeader(b []byte) (id string, hdrLen int, err error) {
	if len(b) < 2 {
		return "", 0, fmt.Errorf("%w: too short", ErrMalformed)
	}
	if b[0] != formatV1 {
		return "", 0, fmt.Errorf("%w: unknown version %d", ErrMalformed, b[0])
	}
	n := int(b[1])
	if n == 0 || n > MaxKeyIDLen {
		return "", 0, fmt.Errorf("%w: bad key id length", ErrMalformed)
	}
	hdrLen = 2 + n
	if len(b) < hdrLen+nonceSize+tagSize {
		return "", 0, fmt.Errorf("%w: too short", ErrMalformed)
	}
	id = string(b[2:hdrLen])
	if validKeyID(id) != nil {
		return "", 0, fmt.Errorf("%w: bad key id", ErrMalformed)
	}
	return id, hdrLen, nil
}

// gcmAAD authenticates the header along with the caller's data, so the
// version and key id cannot be edited without detection.
func gcmAAD(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	return append(append(out, header...), aad...)
}

// GenerateKey returns a new random 256-bit key in standard base64, the form
// security.encryptionKeys takes (`broker keys generate`).
func GenerateKey() (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("secrets: reading random key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// ParseKey decodes a base64 key (standard or URL alphabet, padding optional)
// and checks that it is 32 bytes.
func ParseKey(b64 string) ([]byte, error) {
	s := strings.TrimRight(strings.TrimSpace(b64), "=")
	var (
		k   []byte
		err error
	)
	if strings.ContainsAny(s, "-_") {
		k, err = base64.RawURLEncoding.DecodeString(s)
	} else {
		k, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		// The decoder's message names only an offset, but say it our way.
		return nil, errors.New("secrets: key is not valid base64")
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("secrets: key must decode to %d bytes, got %d", KeySize, len(k))
	}
	return k, nil
}
