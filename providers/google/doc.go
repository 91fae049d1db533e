// Package google is Google's room: what Google Calendar does beyond plain
// OAuth 2.0 and the catalog fields. Today that is only the room itself
// (Google's OAuth is RFC 6749 with OpenID Connect userinfo; its quirks of
// refresh tokens on first consent and access_type=offline live in the
// catalog's authParams); the calendar adapter joins it here. Its fake is
// googletest.
package google
