// Package events is the calendar layer: the calendars of a connection, the
// merged events of every selected calendar of every CONNECTED connection of
// some schedules, and their free/busy (docs/api.md, events). It reads
// through each provider's calendar adapter (providers.CalendarReader),
// through the token manager and the broker's outbound client, in parallel.
package events
