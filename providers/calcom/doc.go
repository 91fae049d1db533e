// Package calcom is Cal.com's room: its refresh endpoint, which takes JSON
// and a Bearer refresh token and answers {access_token} alone; a dead
// refresh token as a bare 401; and /v2/me wrapped in {data}. Its fake is
// calcomtest.
package calcom
