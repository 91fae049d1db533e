// Package broker is the broker's public face: New wires configuration, store,
// key rings, providers, token manager, connect flows and proxy into one HTTP
// handler, which cmd/broker serves and which an app can Mount on its own Gin
// router to embed the broker. It also owns the development secrets (generated
// once into the data directory), opening the configured store, and key
// rotation. Nothing imports this package but cmd/broker and embedding apps.
package broker
