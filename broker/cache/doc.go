// Package cache is the bounded LRU the broker's hot read paths share: the
// token manager's decrypted connections (broker/tokens) and the app
// authenticator's verified apps (middleware).
//
// Both read a row from the store and then cache it, while another goroutine
// may invalidate that very row (a disconnect, an app deletion, a secret
// rotation). A value read before an invalidation must not be cached after
// it, or the invalidation is undone until the entry is evicted. Cache guards
// this with an epoch: take Epoch before reading the store, pass it to Add,
// and Add refuses when any invalidation ran in between. Invalidations are
// rare, so refusing on any of them (not only of the same key) costs one
// extra store read now and then and needs no per-key bookkeeping.
//
// Get takes no lock of this package and allocates nothing: a hit costs the
// LRU's own lookup.
package cache
