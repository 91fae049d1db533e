// Package eventstest is the calendar layer's test bench: a real SQLite
// store, the real token manager and key ring, Google accounts on loopback
// (each an OAuth fake and a Calendar v3 fake that accepts exactly the tokens
// its OAuth fake issued), the events service, and the real router
// (api.Register with app authentication) whose every answer is validated
// against docs/openapi.yaml. Only tests import it.
package eventstest
