// Package webhooks delivers the durable outbox to the apps' webhookUrl in
// the Standard Webhooks 1.0 format (docs/webhooks.md).
//
// Its edge: it reads events the store already holds (written with the
// change they report) and records each attempt back in the store; it never
// creates connection events itself. Every replica runs a Worker: claims are
// exclusive in the store (SKIP LOCKED on PostgreSQL), so no event goes out
// from two replicas at once, and the store's claim keeps per-connection
// order (a later event of a connection waits while an earlier one is
// pending). Delivery is at least once: a replica that dies mid-delivery
// leaves its claim to expire and another attempt follows, with the same
// webhook-id.
//
// The HTTP client dials only public addresses (broker/netguard at dial
// time, so a name that resolves somewhere private later is refused too),
// follows no redirect and uses no proxy from the environment. Errors stored
// on a delivery never carry the webhookUrl (it may hold a receiver's token
// in its query) and only a short, sanitized excerpt of the receiver's body.
package webhooks
