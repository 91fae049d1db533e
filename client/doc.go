// Package client is what another Go service imports to use the broker. It
// depends on the standard library only, so a service that uses it pulls in
// none of the broker's server side (a test checks its import list).
//
// Client is a typed client of the app API: providers, connect (OAuth,
// app-handled code, credentials, hosted connect page), connections, their
// calendars, events (with a cursor-following AllEvents) and free/busy, with
// the broker's errors as *Error. Transport is an http.RoundTripper that
// sends a provider SDK's calls through the broker's /proxy with the app's
// secret, so the SDK works unchanged.
package client
