// Package caldav is CalDAV's room. CalDAV connects with a username and
// password and has no OAuth to be quirky about: the room exists so its
// calendar adapter (events and free/busy over WebDAV) has its home beside
// the other providers', and a provider of kind basic names it with
// `quirks: caldav`.
package caldav
