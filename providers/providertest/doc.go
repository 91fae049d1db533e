// Package providertest runs fakes of OAuth 2.0 providers for tests: real
// httptest servers on loopback that speak the wire format of Google,
// Microsoft, Zoom or Cal.com (or plain RFC 6749), with an auto-approving
// authorize endpoint, a token endpoint that checks client authentication,
// PKCE and redirect URIs, a separate refresh endpoint (Cal.com), revocation,
// user info in each provider's shape, and an echo API behind the token for
// proxy tests. Counters and switches let a test see and steer what the
// provider does. It owns nothing the broker ships; only tests import it.
package providertest
