// Package microsoft is Microsoft's room: the identity platform's AADSTS
// error codes (which mean a dead grant, which an account the app may not
// serve), the shape of Graph's /me, and the calendar adapter (Graph
// me/calendars and calendarView, docs/providers.md). Its fake is
// microsofttest.
package microsoft
