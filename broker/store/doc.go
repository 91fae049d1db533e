// Package store defines the Store interface every storage backend implements:
// apps, app provider clients, connections (credentials only as ciphertext),
// single-use auth sessions, refresh leases and the webhook outbox. Backends
// live in store/sqlite (the embedded default) and store/postgres (scale-out);
// store/storetest is the conformance suite both run. A store never sees a
// plaintext token or secret: encryption and hashing happen above it.
package store
