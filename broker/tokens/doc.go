// Package tokens owns the connections' credentials in use: it hands out a
// valid token for a connection, refreshes OAuth tokens exactly once across
// goroutines and replicas, stores new connections (encrypted) and
// disconnects them. It does not speak HTTP to apps (broker/api and
// broker/proxy do) nor OAuth wire details (providers does).
//
// Three types share the work. Manager hands out credentials: its cache, the
// leased refresh and the keep-alive. Lifecycle changes what a connection is
// (save, reconnect, NEEDS_REAUTH, disconnect, revoke), each change with its
// webhook event in the same transaction. Clients picks the OAuth client. A
// Manager carries the other two, so their methods are its own.
//
// # Cache
//
// A bounded broker/cache keyed by connection id holds the decrypted token
// of CONNECTED connections with their app, provider, status and version.
// Get on a hit whose token is not within ExpiryMargin of its expiry does no
// store read, no decryption and no allocation: the cached *Credential is
// shared, so callers treat it as read-only. A hit for another app is
// model.ErrNotFound, exactly like a missing connection. A miss reads the
// store once for all concurrent callers (singleflight), checks the app,
// decrypts (AAD = connection id) and caches. Only CONNECTED connections are
// cached. Purge, PurgeAll and Invalidate (fed by the store's change feed on
// several replicas) drop entries; the cache's epoch keeps a value read
// before a purge from being cached after it (a disconnect cannot be undone
// by a slow reader), and an older version never replaces a newer one.
//
// # Reconnect
//
// Save finds the account's previous connection with one indexed read
// (Store.FindConnection) only when the new grant lacks a refresh token: it
// then keeps the previous one if it was issued to the same client.
//
// # Statuses
//
// NEEDS_REAUTH is model.ErrNeedsReauth (409 needs_reauth). DISCONNECTED is
// ErrDisconnected, a conflict (409): the connection exists and its owner can
// see it as DISCONNECTED in GET /v1/connections/{id}, so answering 404 would
// only suggest a wrong id; it has no credential, and reconnecting is the fix.
// A foreign connection stays 404 whatever its status.
//
// # Refresh: exactly once
//
// A token that is expired or within the margin is refreshed by one
// goroutine per process (singleflight keyed by connection id) holding the
// store lease "refresh:<id>" (one holder across replicas). Others poll with
// jittered backoff; a replica killed mid-refresh blocks them at most
// LeaseTTL. Once the lease is won the connection is re-read: if another
// replica already refreshed it, that token is used and the provider is not
// called. Otherwise providers.Refresh runs with the client the connection was
// made with (ClientFor) and the new token, with the rotated refresh token or
// the old one when the response has none, is stored by compare-and-swap
// before anyone uses it; the write checks the row still holds the grant we
// refreshed (a reconnect meanwhile wins). The refresh runs on a context
// detached from the caller (context.WithoutCancel plus RefreshTimeout), so a
// caller that gives up gets its context error while the refresh completes
// and is stored.
//
// ForceRefresh (the proxy's retry after a 401) takes the same path but
// refreshes only while the stored access token is still the rejected one.
//
// # Failures
//
// providers.ClassifyTokenError decides. ClassReauth (invalid_grant and each
// provider's equivalent): the connection becomes NEEDS_REAUTH with LastError
// "invalid_grant", its stored credential is kept (never wiped), the cache
// entry is purged, a connection.needs_reauth outbox entry is written, and the
// caller gets model.ErrNeedsReauth. ClassTransient (network, 5xx, 429):
// retried after RetryDelays (100ms, 400ms), renewing the lease before each
// retry; then the caller gets model.ErrUpstreamUnavailable (or
// ErrUpstreamTimeout) and the status is unchanged. When the current token
// has not actually expired yet (it was only within the margin), it is still
// handed out instead of an error. Other errors are not retried and leave the
// connection unchanged. An expired token without a refresh token marks the
// connection NEEDS_REAUTH (LastError "no_refresh_token"). Error messages and
// log lines carry HTTP statuses and OAuth error codes, never provider text,
// tokens or secrets. If the refreshed token cannot be stored after retries,
// the error is logged and returned: for a provider that rotates refresh
// tokens the spent one cannot be recovered, which is why the write is
// retried while the store is briefly unavailable. The same holds for a
// replica killed between the provider's answer and the write: the lease
// expires and another replica refreshes with the stored refresh token, which
// still works unless the provider rotates single-use refresh tokens (the
// window is one round trip to the store).
//
// # Keep-alive
//
// RunKeepAlive refreshes, for providers with KeepAlive set, CONNECTED
// connections last refreshed more than idleAfter ago, one at a time with
// jitter spread over the interval, through the same lease path; the idle
// test is repeated on the stored row under the lease, so replicas running
// the loop together refresh each connection once.
package tokens
