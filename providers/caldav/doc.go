// Package caldav is CalDAV's room: its calendar adapter reads calendars
// and events over WebDAV with go-webdav's client and parses iCalendar with
// go-ical. CalDAV connects with a username and password, so the room has
// no OAuth to be quirky about; a provider of kind basic names it with
// `quirks: caldav` and `events: caldav`. What it reads and how recurring
// events, all-day events and time zones are handled: docs/providers.md.
package caldav
