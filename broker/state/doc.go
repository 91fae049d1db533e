// Package state signs and verifies the OAuth `state` parameter: a short-lived
// HS256 JWT (golang-jwt/jwt/v5) that names the server-side auth session, the
// provider and the app, and nothing else (no PKCE verifier, no redirect URL).
//
// Verification is strict (docs/security.md §2 and §5): the raw string is
// size- and shape-checked before parsing; only HS256 is accepted; the key is
// picked by `kid` from the configured ring and nothing else (jku, jwk, x5u and
// friends are refused); `typ`, `iss`, `aud`, `exp` and `iat` are required and
// checked. Single use is not this package's job: the caller consumes the auth
// session the state names.
package state
