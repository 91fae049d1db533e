package store

import (
	"context"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

// Store is the broker's persistence. Every method returns model.ErrNotFound
// for a missing record, model.ErrConflict for a uniqueness violation and
// model.ErrUnavailable (wrapped) when the database cannot be reached.
type Store interface {
	Apps
	Connections
	AuthSessions
	Leases
	Outbox

	// Migrate applies the embedded migrations, once even when several
	// processes call it together.
	Migrate(ctx context.Context) error
	// SchemaVersion returns the applied schema version and the newest one
	// this binary knows.
	SchemaVersion(ctx context.Context) (applied, known int, err error)
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Apps stores client apps and their own provider clients.
type Apps interface {
	CreateApp(ctx context.Context, a model.App) error
	GetApp(ctx context.Context, id string) (model.App, error)
	QueryApps(ctx context.Context, q AppQuery) (apps []model.App, total int, err error)
	// ListApps pages through every app by id, after the cursor afterID (the
	// last id of the previous page). Unlike QueryApps' offset, a cursor
	// skips no row when apps are created or deleted between pages.
	ListApps(ctx context.Context, afterID string, limit int) ([]model.App, error)
	// UpdateApp reads the app, calls fn and writes its result only if the app
	// did not change meanwhile (compare-and-swap on Version, retried a few
	// times on contention). fn may return an error to abort.
	UpdateApp(ctx context.Context, id string, fn func(model.App) (model.App, error)) (model.App, error)
	// DeleteApp removes the app and marks its connections DISCONNECTED with
	// their credentials wiped, in one transaction.
	DeleteApp(ctx context.Context, id string) error

	PutAppProvider(ctx context.Context, p model.AppProvider) error
	GetAppProvider(ctx context.Context, appID, providerID string) (model.AppProvider, error)
	DeleteAppProvider(ctx context.Context, appID, providerID string) error
	// ListAppProviders pages through every app provider client, ordered by
	// (appID, providerID), after the given key; for key rotation.
	ListAppProviders(ctx context.Context, afterAppID, afterProviderID string, limit int) ([]model.AppProvider, error)
	// ResealAppProvider rewrites only the client secret of an app provider
	// client, by compare-and-swap on the sealed value: fn gets the stored
	// ciphertext, and its result is written only if the row still holds
	// that ciphertext; otherwise fn runs again on the fresh one (every PUT
	// seals anew, so a concurrent replacement always differs). A row deleted
	// meanwhile is model.ErrNotFound and stays deleted. The client id,
	// scopes and times are left as they are. For key rotation.
	ResealAppProvider(ctx context.Context, appID, providerID string, fn func(sealed []byte) ([]byte, error)) error
}

// AppQuery filters, sorts and pages apps.
type AppQuery struct {
	ID        string // filter.id; empty = all
	SortField string // "id" (default), "createdDate" or "name"
	SortDesc  bool
	Limit     int // 0 = backend default (50)
	Offset    int
}

// Connections stores connections.
type Connections interface {
	// UpsertConnectionWithEvent stores c, or, when a connection with the
	// same app, provider, schedule and AccountID exists, updates that one in
	// place (keeping its id and CreatedAt; every other field is taken from
	// c). The credentials are sealed by seal with the final id, inside the
	// transaction, because the ciphertext is bound to the id (AAD); c.ID is
	// the id to use when the connection is new. The webhook event ev returns
	// (ev may be nil: none) goes into the outbox in the same transaction. It
	// returns the stored connection and whether it was created.
	UpsertConnectionWithEvent(ctx context.Context, c model.Connection, seal func(id string) ([]byte, error), ev ConnectionEvent) (model.Connection, bool, error)
	// GetConnection returns the connection only if it belongs to appID; a
	// foreign connection is model.ErrNotFound, like a missing one.
	GetConnection(ctx context.Context, appID, id string) (model.Connection, error)
	// GetConnectionByID is for the token manager, which has already checked
	// ownership.
	GetConnectionByID(ctx context.Context, id string) (model.Connection, error)
	// FindConnection returns the connection of an account: the one
	// UpsertConnectionWithEvent would update in place for the same key. It
	// is one read on the unique index of that key; none is
	// model.ErrNotFound.
	FindConnection(ctx context.Context, k AccountKey) (model.Connection, error)
	ListConnections(ctx context.Context, f ConnectionFilter) ([]model.Connection, error)
	// UpdateConnection is compare-and-swap on Version, like UpdateApp.
	UpdateConnection(ctx context.Context, id string, fn func(model.Connection) (model.Connection, error)) (model.Connection, error)
	// UpdateConnectionWithEvent is UpdateConnection that also writes the
	// webhook event ev returns into the outbox, in the same transaction.
	UpdateConnectionWithEvent(ctx context.Context, id string, fn func(model.Connection) (model.Connection, error), ev ConnectionEvent) (model.Connection, error)
}

// AccountKey is what makes a connection unique: one per account for an
// app, provider and schedule.
type AccountKey struct {
	AppID, ProviderID, ScheduleID, AccountID string
}

// KeyOf returns c's AccountKey.
func KeyOf(c model.Connection) AccountKey {
	return AccountKey{AppID: c.AppID, ProviderID: c.ProviderID, ScheduleID: c.ScheduleID, AccountID: c.AccountID}
}

// ConnectionEvent decides the webhook event a connection change reports:
// prev is the row before the change (nil when it is created), next the row
// as written. ok false writes no event. It runs inside the transaction, so
// the event is stored exactly when the change is: a crash cannot keep one
// without the other, and events of one connection take its row lock in turn,
// so they are queued in the order of the changes.
type ConnectionEvent func(prev *model.Connection, next model.Connection) (e model.WebhookEvent, ok bool)

// ConnectionFilter selects connections. Results are ordered by id; paging is
// by cursor: After is the last id of the previous page.
type ConnectionFilter struct {
	AppID       string // empty = every app (internal use only)
	ScheduleIDs []string
	ProviderID  string
	Status      model.ConnectionStatus
	After       string
	Limit       int // 0 = 100
}

// AuthSessions stores the server side of OAuth connect flows.
type AuthSessions interface {
	CreateAuthSession(ctx context.Context, s model.AuthSession) error
	// GetAuthSession returns an unexpired session (model.ErrNotFound otherwise).
	GetAuthSession(ctx context.Context, id string, now time.Time) (model.AuthSession, error)
	// BindAuthSession sets the binding hash once; a second binding of the same
	// session is model.ErrConflict.
	BindAuthSession(ctx context.Context, id string, bindingHash []byte, now time.Time) error
	// ConsumeAuthSession deletes and returns the session atomically: of any
	// number of concurrent callers exactly one gets it, the others get
	// model.ErrNotFound. An expired session is model.ErrNotFound too.
	ConsumeAuthSession(ctx context.Context, id string, now time.Time) (model.AuthSession, error)
	// CountAuthSessions counts an app's sessions unexpired at now (started
	// and not yet finished): the cap on outstanding connect sessions.
	CountAuthSessions(ctx context.Context, appID string, now time.Time) (int, error)
	// DeleteExpiredAuthSessions removes sessions expired before now.
	DeleteExpiredAuthSessions(ctx context.Context, now time.Time) (int, error)
}

// Leases are short-lived named locks shared by every replica (one refresh
// per connection across replicas).
type Leases interface {
	// AcquireLease takes the lease name for holder until now+ttl. It succeeds
	// when the lease is free, expired, or already held by holder.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLease frees the lease if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Outbox is the durable webhook outbox and delivery log (broker/webhooks
// delivers from it; docs/webhooks.md).
type Outbox interface {
	// EnqueueWebhook stores a pending event, due at NextAttemptAt (or
	// CreatedAt, or now), after every event already stored.
	EnqueueWebhook(ctx context.Context, e model.WebhookEvent) error
	// ClaimWebhooks returns up to limit pending events due at now, counts
	// the attempt and pushes their NextAttemptAt to now+lockFor so that no
	// other replica takes them. An event is not due while an earlier event
	// of the same connection is pending: delivery keeps per-connection order.
	ClaimWebhooks(ctx context.Context, now time.Time, limit int, lockFor time.Duration) ([]model.WebhookEvent, error)
	// ReleaseWebhook hands back a claim that made no attempt: the attempt
	// ClaimWebhooks counted is undone and the event is due again at next.
	// Guarded like RetryWebhook (attempt is the claimed count).
	ReleaseWebhook(ctx context.Context, id string, attempt int, next time.Time) error
	// CompleteWebhook marks an event delivered.
	CompleteWebhook(ctx context.Context, id string, at time.Time, statusCode int) error
	// RetryWebhook records a failed attempt and when to try again. It
	// applies only while the event is pending at attempt (the Attempts of
	// the claim), so a worker whose claim ran out cannot move another's.
	RetryWebhook(ctx context.Context, id string, attempt int, next time.Time, statusCode int, lastErr string) error
	// FailWebhook records a last failed attempt: the event is failed for
	// good (a redeliver queues it again). Guarded like RetryWebhook.
	FailWebhook(ctx context.Context, id string, attempt int, at time.Time, statusCode int, lastErr string) error
	// GetWebhook returns an app's event; a foreign one is model.ErrNotFound.
	GetWebhook(ctx context.Context, appID, id string) (model.WebhookEvent, error)
	// ListWebhooks lists an app's events, newest first.
	ListWebhooks(ctx context.Context, f WebhookFilter) ([]model.WebhookEvent, error)
	// RedeliverWebhook queues a delivered or failed event of appID again,
	// due now, with its attempts reset; a pending one is model.ErrConflict.
	RedeliverWebhook(ctx context.Context, appID, id string, now time.Time) (model.WebhookEvent, error)
	// PruneWebhooks deletes up to limit events delivered before
	// deliveredBefore or failed before failedBefore; it returns how many.
	PruneWebhooks(ctx context.Context, deliveredBefore, failedBefore time.Time, limit int) (int, error)
}

// WebhookFilter selects an app's webhook events, newest first; paging is by
// cursor: BeforeSeq is the Seq of the last event of the previous page.
type WebhookFilter struct {
	AppID     string // required
	Status    model.DeliveryStatus
	Type      string
	BeforeSeq int64 // 0 = from the newest
	Limit     int   // 0 = 100
}

// ChangeKind names what changed.
type ChangeKind string

// Change kinds.
const (
	ChangeConnection ChangeKind = "connection"
	ChangeApp        ChangeKind = "app"
)

// Change tells caches on every replica that a record changed.
type Change struct {
	Kind ChangeKind
	ID   string
}

// Watcher is an optional ability of a Store shared by several processes
// (PostgreSQL LISTEN/NOTIFY): Watch calls fn for every change made by any
// replica, until ctx ends. When the listening connection drops and comes
// back, it calls fn with a zero Change to say "resync everything".
type Watcher interface {
	Watch(ctx context.Context, fn func(Change)) error
}

// Stats is what the broker's metrics read at scrape time (docs/operations.md);
// both backends have it. The queries are aggregates over indexed columns.
type Stats interface {
	// CountConnections counts connections per status.
	CountConnections(ctx context.Context) (map[string]int64, error)
	// WebhookBacklog counts pending deliveries and returns when the oldest
	// of them was queued (zero when none is pending).
	WebhookBacklog(ctx context.Context) (pending int64, oldest time.Time, err error)
}
