// Package calcomtest is the fake of Cal.com's OAuth endpoints and /v2/me
// for tests: the generic fake of providertest speaking Cal.com's wire
// format (a separate /refresh endpoint taking JSON and a Bearer refresh
// token, token responses without token_type, expires_in or scope, bare 401
// {"message":"Unauthorized"} for a dead grant, /v2/me wrapped in data), and
// Bookings, the v2 bookings API. Only tests import it.
package calcomtest
