// Package demo is the built-in demo provider that `broker serve --demo` (or
// `demo: true`) mounts under /demo/: a small but real OAuth 2.0 server
// (authorize page with Allow and Deny, token endpoint with short-lived access
// tokens, PKCE S256 and rotating refresh tokens, OIDC-style user info) and a
// read-only calendar API that speaks Google Calendar v3's wire format, with a
// few days of timed, all-day and recurring events around the day it started.
//
// It is production code, not a test fake: it is meant to be exposed on a
// public broker for people trying it out. Everything it keeps lives in
// bounded in-memory LRUs (a restart forgets every grant, and a connection to
// it then needs reconnecting), every code and token is 256 random bits, and it
// logs nothing. The broker's own calls to it (token, user info, /proxy) are
// served in-process by Transport, so they never depend on the public URL
// being reachable from the server itself. See docs/demo.md.
package demo
