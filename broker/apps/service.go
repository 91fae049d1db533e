package apps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// Paging bounds of Query.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// Options configures a Service. Store and Keys are required.
type Options struct {
	Store store.Store
	// Keys encrypts the webhook secret and apps' own provider client secrets.
	Keys *secrets.KeyRing
	// Providers lists the providers an app may bring its own OAuth client
	// for; nil refuses every PutProvider.
	Providers *providers.Registry
	Now       func() time.Time
	// AllowInsecureLoopback lets webhookUrl be plain http to loopback
	// (server.allowInsecureLoopback); otherwise it must be https.
	AllowInsecureLoopback bool
	// WebhookSecretGrace is how long a rotated-out webhook secret keeps
	// signing beside the new one (webhooks.secretGrace); 0 = not at all.
	WebhookSecretGrace time.Duration
	// OnChange is called after an app was deleted, its secret rotated or its
	// settings changed, so caches (the authenticator, the token manager) drop
	// what they hold for it.
	OnChange func(appID string)
	// BeforeDelete runs before an app is deleted, while its own OAuth
	// clients still exist: the token manager revokes the app's grants at
	// their providers there (best effort). nil: nothing.
	BeforeDelete func(ctx context.Context, appID string) error
}

// Service manages apps. It is safe for concurrent use.
type Service struct {
	opts      Options // as given, for Options
	store     store.Store
	keys      *secrets.KeyRing
	providers *providers.Registry
	now       func() time.Time
	onChange  func(string)
	preDelete func(context.Context, string) error
	grace     time.Duration
	loopback  bool
}

// New returns a Service. A missing Store or Keys, or a negative grace, is
// an error.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Keys == nil {
		return nil, errors.New("apps: Store and Keys are required")
	}
	if o.WebhookSecretGrace < 0 {
		return nil, fmt.Errorf("apps: WebhookSecretGrace %s: must not be negative", o.WebhookSecretGrace)
	}
	s := &Service{opts: o, store: o.Store, keys: o.Keys, providers: o.Providers, now: o.Now, onChange: o.OnChange, preDelete: o.BeforeDelete,
		grace: o.WebhookSecretGrace, loopback: o.AllowInsecureLoopback}
	if s.now == nil {
		s.now = time.Now
	}
	if s.onChange == nil {
		s.onChange = func(string) {}
	}
	return s, nil
}

// Options are the options the Service runs with, read back from what it
// uses where it keeps them apart.
func (s *Service) Options() Options {
	o := s.opts
	o.Store, o.Keys, o.Providers, o.WebhookSecretGrace, o.AllowInsecureLoopback = s.store, s.keys, s.providers, s.grace, s.loopback
	return o
}

// Create registers an app and returns it with its client secret and webhook
// signing secret. Neither secret can be read back later: the client secret is
// stored as a hash, the webhook secret encrypted.
func (s *Service) Create(ctx context.Context, in AppInput) (app model.App, secret, webhookSecret string, err error) {
	var a model.App
	if err := apply(&a, in, UpdatablePaths, s.loopback); err != nil {
		return model.App{}, "", "", err
	}
	// Only an omitted list takes the default: an empty one grants nothing
	// (fail closed, docs/security.md §22).
	if in.Permissions == nil {
		a.Permissions = append([]model.Permission(nil), model.AllPermissions...)
	}
	a.ID = model.NewID(model.PrefixApp)
	secret, a.SecretHash, err = secrets.NewAppSecret(a.ID)
	if err != nil {
		return model.App{}, "", "", fmt.Errorf("apps: %w", err)
	}
	webhookSecret = secrets.NewWebhookSecret()
	if a.WebhookSecret, err = s.keys.Encrypt([]byte(webhookSecret), model.WebhookSecretAAD(a.ID)); err != nil {
		return model.App{}, "", "", fmt.Errorf("apps: encrypting the webhook secret: %w", err)
	}
	a.CreatedAt = s.now().UTC()
	a.UpdatedAt = a.CreatedAt
	if err := s.store.CreateApp(ctx, a); err != nil {
		return model.App{}, "", "", fmt.Errorf("apps: creating app: %w", err)
	}
	return a, secret, webhookSecret, nil
}

// Get returns one app; model.ErrNotFound (wrapped) when there is none.
func (s *Service) Get(ctx context.Context, id string) (model.App, error) {
	a, err := s.store.GetApp(ctx, id)
	if err != nil {
		return model.App{}, notFound(err)
	}
	return a, nil
}

// Query lists apps. An empty SortField means id descending; Limit 0 means
// DefaultLimit.
func (s *Service) Query(ctx context.Context, q store.AppQuery) ([]model.App, int, error) {
	switch q.SortField {
	case "":
		q.SortField, q.SortDesc = "id", true
	case "id", "createdDate", "name":
	default:
		return nil, 0, model.Invalid("sort[0].fieldName", "%q cannot be sorted on; use createdDate or name", clip(q.SortField))
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return nil, 0, model.Invalid("paging.limit", "must be 1 to %d, got %d", MaxLimit, q.Limit)
	}
	if q.Offset < 0 {
		return nil, 0, model.Invalid("paging.offset", "must not be negative, got %d", q.Offset)
	}
	apps, total, err := s.store.QueryApps(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("apps: querying apps: %w", err)
	}
	return apps, total, nil
}

// Update changes the fields of app id that mask names (the JSON names of
// UpdatablePaths) to their values in in. An empty mask, an unknown path or a
// read-only one (id, createdDate, updatedDate) is invalid_argument naming
// it. An empty permissions list is kept as is: an app without permissions
// can still authenticate but do nothing.
func (s *Service) Update(ctx context.Context, id string, in AppInput, mask []string) (model.App, error) {
	if len(mask) == 0 {
		return model.App{}, model.Invalid("mask.paths", "must name at least one field to change: %s", pathList())
	}
	for i, p := range mask {
		if readOnlyPaths[p] {
			return model.App{}, model.Invalid(fmt.Sprintf("mask.paths[%d]", i), "%q is read-only", p)
		}
		if !isUpdatable(p) {
			return model.App{}, model.Invalid(fmt.Sprintf("mask.paths[%d]", i), "%q is not a field of an app; use %s", clip(p), pathList())
		}
	}
	// Validate before touching the store, so a bad value is invalid_argument
	// whether or not the app exists.
	var probe model.App
	if err := apply(&probe, in, mask, s.loopback); err != nil {
		return model.App{}, err
	}
	now := s.now().UTC()
	a, err := s.store.UpdateApp(ctx, id, func(a model.App) (model.App, error) {
		if err := apply(&a, in, mask, s.loopback); err != nil {
			return a, err
		}
		if slices.Contains(mask, PathWebhookURL) {
			// Setting webhookUrl again is how an admin turns webhooks
			// back on after the receiver answered 410 Gone.
			a.WebhooksDisabledAt = time.Time{}
		}
		a.UpdatedAt = now
		return a, nil
	})
	if err != nil {
		return model.App{}, notFound(err)
	}
	s.onChange(id) // permissions may have changed: cached apps must not keep the old ones
	return a, nil
}

// Delete removes the app; its connections are disconnected by the store in
// the same transaction, and its secret stops authenticating at once.
func (s *Service) Delete(ctx context.Context, id string) error {
	if s.preDelete != nil {
		if _, err := s.store.GetApp(ctx, id); err != nil {
			return notFound(err)
		}
		if err := s.preDelete(ctx, id); err != nil {
			return err
		}
	}
	if err := s.store.DeleteApp(ctx, id); err != nil {
		return notFound(err)
	}
	s.onChange(id)
	return nil
}

// RotateSecret replaces the client secret and returns the new one; the old
// one stops authenticating at once.
func (s *Service) RotateSecret(ctx context.Context, id string) (string, error) {
	secret, hash, err := secrets.NewAppSecret(id)
	if err != nil {
		// Not an id this broker issued: there is no such app.
		return "", &model.Error{Code: model.CodeNotFound, Message: "app not found", Err: err}
	}
	now := s.now().UTC()
	_, err = s.store.UpdateApp(ctx, id, func(a model.App) (model.App, error) {
		a.SecretHash, a.UpdatedAt = hash, now
		return a, nil
	})
	if err != nil {
		return "", notFound(err)
	}
	s.onChange(id)
	return secret, nil
}

// RotateWebhookSecret replaces the webhook signing secret and returns the new
// one. The old one keeps signing beside it for the grace period
// (docs/webhooks.md), so a receiver can switch without refusing deliveries;
// a second rotation within the grace drops the oldest secret.
func (s *Service) RotateWebhookSecret(ctx context.Context, id string) (string, error) {
	secret := secrets.NewWebhookSecret()
	enc, err := s.keys.Encrypt([]byte(secret), model.WebhookSecretAAD(id))
	if err != nil {
		return "", fmt.Errorf("apps: encrypting the webhook secret: %w", err)
	}
	now := s.now().UTC()
	_, err = s.store.UpdateApp(ctx, id, func(a model.App) (model.App, error) {
		a.WebhookSecretPrev, a.WebhookSecretPrevUntil = nil, time.Time{}
		if s.grace > 0 && len(a.WebhookSecret) > 0 {
			a.WebhookSecretPrev, a.WebhookSecretPrevUntil = a.WebhookSecret, now.Add(s.grace)
		}
		a.WebhookSecret, a.UpdatedAt = enc, now
		return a, nil
	})
	if err != nil {
		return "", notFound(err)
	}
	s.onChange(id)
	return secret, nil
}

// WebhookSecret decrypts an app's webhook signing secret (for the webhook
// sender).
func (s *Service) WebhookSecret(a model.App) (string, error) {
	pt, err := s.keys.Decrypt(a.WebhookSecret, model.WebhookSecretAAD(a.ID))
	if err != nil {
		return "", fmt.Errorf("apps: decrypting the webhook secret of %s: %w", a.ID, err)
	}
	return string(pt), nil
}

func isUpdatable(p string) bool {
	for _, q := range UpdatablePaths {
		if p == q {
			return true
		}
	}
	return false
}

func pathList() string {
	out := ""
	for i, p := range UpdatablePaths {
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}

// notFound gives a missing app a message of its own and wraps other store
// errors with the package name.
func notFound(err error) error {
	var me *model.Error
	switch {
	case errors.As(err, &me):
		return err // a validation error from inside an update
	case errors.Is(err, model.ErrNotFound):
		return &model.Error{Code: model.CodeNotFound, Message: "app not found", Err: err}
	default:
		return fmt.Errorf("apps: %w", err)
	}
}
