// Package connect owns the flows that create connections (docs/architecture.md "Flows"):
// OAuth by redirect (POST /v1/connect/oauth → GET /oauth/start/{sessionId} →
// GET /oauth/callback), the app-handled code exchange (POST
// /v1/connect/code), credentials (POST /v1/connect/credentials), and the
// per-app view of connections (list, get, test, disconnect).
//
// Its edge: it validates what an app and a browser send (redirect URLs,
// state, the browser-binding cookie, iss), keeps the flow's server side in
// the store's auth sessions, and hands every token to tokens.Manager, which
// encrypts and stores it. It never writes a token, code, state or secret to
// a log line, an error message or a URL other than the provider's own.
package connect
