// Package rotation re-seals every secret the store holds under the key
// ring's primary key (`broker keys rotate`): connection credentials, apps'
// own OAuth client secrets and webhook signing secrets, the current one and
// the one a webhook-secret rotation keeps for its grace.
//
// It runs while replicas serve and admins edit, so it never writes blind.
// Each row is re-sealed by compare-and-swap on what was read (the row's
// version for connections and apps, the sealed value for an app's client):
// a replica's refresh, an admin's PUT or a secret rotation that lands
// between the read and the write wins, and the rotation re-reads the row and
// re-seals the winner's value if it still needs it. A row deleted meanwhile
// stays deleted. Rows are paged by cursor (by key, never by offset), so a
// row created or deleted between pages makes none of the others be skipped;
// a row created meanwhile is sealed under the primary key already, since
// replicas hold the new ring before the rotation runs
// (docs/operations.md).
package rotation
