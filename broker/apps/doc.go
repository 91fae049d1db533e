// Package apps owns the registration of client apps: creating them with a
// client secret and a webhook signing secret that are shown only once,
// reading, querying, updating by field mask, deleting, rotating either
// secret, and storing an app's own OAuth client for a provider.
//
// It validates everything an admin sends (names, allowed domains, redirect
// URIs, URLs, permissions) and names the field and entry at fault with
// model.Invalid, so the HTTP API (broker/api) and the CLI (cmd/broker) give
// the same answers. The client secret is kept only as a hash and the webhook
// and provider client secrets only encrypted (broker/secrets); the package
// never returns a stored secret. Callers that cache apps (the authenticator)
// learn about deletions and rotations through Options.OnChange.
package apps
