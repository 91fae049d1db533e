// Package caldavtest runs a CalDAV server for tests: go-webdav's CalDAV
// server (a protocol implementation the broker did not write) behind
// httptest, over an in-memory store of iCalendar objects, with HTTP Basic
// authentication and failures a test can inject.
package caldavtest
