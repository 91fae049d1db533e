// Package calcom is Cal.com's room: its refresh endpoint, which takes JSON
// and a Bearer refresh token and answers {access_token} alone; a dead
// refresh token as a bare 401; /v2/me wrapped in {data}; and the calendar
// adapter, which reads the account's bookings (GET /v2/bookings) as one
// calendar (docs/providers.md). Its fake is calcomtest.
package calcom
