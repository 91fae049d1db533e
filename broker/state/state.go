package state

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Limits and fixed header values.
const (
	// MaxTTL is the longest a state may live (docs/security.md §2).
	MaxTTL = 10 * time.Minute
	// MaxStateLen bounds the raw state before any parsing: a real one is
	// about 350 bytes.
	MaxStateLen = 2048
	// MinSecretLen is the shortest HMAC key accepted: 256 bits.
	MinSecretLen = 32
	// Type is the JWT `typ` header of a state, so no other JWT signed with
	// the same key can pass for one.
	Type = "broker-state+jwt"
	// Leeway absorbs clock skew between replicas (a flow may start on one
	// and come back to another).
	Leeway = 30 * time.Second
)

// ErrInvalidState is wrapped by every Verify error. Its messages never
// contain the token.
var ErrInvalidState = errors.New("state: invalid state")

// ErrExpired is also wrapped when the only fault is that the state expired,
// so the callback page can say "start again".
var ErrExpired = errors.New("state: expired")

// Key is one named HMAC key of the ring.
type Key struct {
	ID     string
	Secret []byte
}

// Options configure a Signer.
type Options struct {
	Keys     []Key // the first signs; all verify
	Issuer   string
	Audience string
	TTL      time.Duration // 0 means MaxTTL; more than MaxTTL is an error
	Now      func() time.Time
}

// Claims are what a state carries.
type Claims struct {
	SessionID string
	Provider  string
	App       string
	// Set by Sign and returned by Verify; ignored on input.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// jwtClaims is the wire form; short names keep the state small.
type jwtClaims struct {
	SID string `json:"sid"`
	PRV string `json:"prv"`
	APP string `json:"app"`
	jwt.RegisteredClaims
}

// Signer signs and verifies states. It is safe for concurrent use.
type Signer struct {
	keys     map[string][]byte
	signKID  string
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewSigner checks the options and builds a Signer.
func NewSigner(o Options) (*Signer, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("state: at least one key is required")
	}
	if o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("state: issuer and audience are required")
	}
	if o.TTL < 0 || o.TTL > MaxTTL {
		return nil, fmt.Errorf("state: ttl %s must be between 0 and %s", o.TTL, MaxTTL)
	}
	if o.TTL == 0 {
		o.TTL = MaxTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Signer{
		keys:     make(map[string][]byte, len(o.Keys)),
		signKID:  o.Keys[0].ID,
		issuer:   o.Issuer,
		audience: o.Audience,
		ttl:      o.TTL,
		now:      o.Now,
	}
	for i, k := range o.Keys {
		if k.ID == "" || len(k.ID) > 32 {
			return nil, fmt.Errorf("state: key %d: id must be 1 to 32 characters", i)
		}
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("state: key %q: secret must be at least %d bytes, got %d", k.ID, MinSecretLen, len(k.Secret))
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("state: key %q: duplicate id", k.ID)
		}
		s.keys[k.ID] = append([]byte(nil), k.Secret...)
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(o.Now),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable padding bits
	)
	return s, nil
}

// Sign returns a state for c, valid for the configured TTL.
func (s *Signer) Sign(c Claims) (string, error) {
	if c.SessionID == "" || c.Provider == "" || c.App == "" {
		return "", errors.New("state: session id, provider and app are required")
	}
	now := s.now().Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwtClaims{
		SID: c.SessionID,
		PRV: c.Provider,
		APP: c.App,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Audience:  jwt.ClaimStrings{s.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)),
		},
	})
	t.Header["kid"] = s.signKID
	t.Header["typ"] = Type
	out, err := t.SignedString(s.keys[s.signKID])
	if err != nil {
		return "", fmt.Errorf("state: signing: %w", err)
	}
	return out, nil
}

// Verify checks a state and returns its claims. Every error wraps
// ErrInvalidState and says why in a few fixed words.
func (s *Signer) Verify(token string) (Claims, error) {
	if err := checkShape(token); err != nil {
		return Claims{}, invalid(err.Error())
	}
	var jc jwtClaims
	_, err := s.parser.ParseWithClaims(token, &jc, s.keyFor)
	if err != nil {
		return Claims{}, classify(err)
	}
	if jc.SID == "" || jc.PRV == "" || jc.APP == "" || jc.IssuedAt == nil {
		return Claims{}, invalid("missing claims")
	}
	// A state from our ring always has 0 < exp - iat <= MaxTTL; anything
	// else was not made by Sign.
	if life := jc.ExpiresAt.Sub(jc.IssuedAt.Time); life <= 0 || life > MaxTTL {
		return Claims{}, invalid("bad lifetime")
	}
	return Claims{
		SessionID: jc.SID,
		Provider:  jc.PRV,
		App:       jc.APP,
		IssuedAt:  jc.IssuedAt.Time,
		ExpiresAt: jc.ExpiresAt.Time,
	}, nil
}

// refusedHeaders would point a verifier at a key or rules outside the ring;
// this package never reads them, and refuses tokens that carry them.
var refusedHeaders = []string{"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"}

// keyFor picks the key by kid from the ring only, after the typ check.
func (s *Signer) keyFor(t *jwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); typ != Type {
		return nil, reason("wrong typ")
	}
	for _, h := range refusedHeaders {
		if _, ok := t.Header[h]; ok {
			return nil, reason("forbidden header")
		}
	}
	kid, _ := t.Header["kid"].(string)
	key, ok := s.keys[kid]
	if !ok {
		return nil, reason("unknown kid")
	}
	return key, nil
}

// checkShape refuses what is too long or is not three base64url parts,
// before any decoding is spent on it (docs/security.md §19).
func checkShape(token string) error {
	if token == "" {
		return errors.New("empty")
	}
	if len(token) > MaxStateLen {
		return errors.New("too long")
	}
	dots, partLen := 0, 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if partLen == 0 {
				return errors.New("empty part")
			}
			dots++
			partLen = 0
			continue
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			partLen++
		default:
			return errors.New("not base64url")
		}
	}
	if dots != 2 || partLen == 0 {
		return errors.New("not three parts")
	}
	return nil
}

// reason is a fixed, token-free explanation from keyFor.
type reason string

func (r reason) Error() string { return string(r) }

func invalid(why string) error {
	return fmt.Errorf("%w: %s", ErrInvalidState, why)
}

// classify maps jwt errors to fixed reasons: jwt's own messages can quote
// pieces of the input, which must not reach logs.
func classify(err error) error {
	var r reason
	switch {
	case errors.As(err, &r):
		return invalid(string(r))
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("%w: %w", ErrInvalidState, ErrExpired)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("bad signature")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid("wrong issuer")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid("wrong audience")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid("issued in the future")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid("missing claims")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return invalid("unverifiable")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("malformed")
	default:
		return invalid("rejected")
	}
}
