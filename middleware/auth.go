package middleware

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/cache"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
)

// Context keys set by the authenticator (the app is in the request's
// state, see AppFrom).
const (
	// KeyAdmin is set to "write" or "read" on an authenticated admin call.
	KeyAdmin = "broker.admin"
)

// HeaderAPIKey carries an app's client secret.
const HeaderAPIKey = "X-Api-Key"

// AppCacheTTL is the broker's AuthOptions.CacheTTL: how long a cached app is
// trusted without a store read. Deletions and rotations made through this
// process (or announced by the store's Watcher) purge at once; the TTL
// covers changes made by another process that cannot announce them, such as
// `broker apps delete` against a running SQLite broker. It is fixed, not
// configured.
const AppCacheTTL = 30 * time.Second

// errUnauthenticated is the one answer to every failed authentication, so a
// caller cannot tell a missing app, a deleted one and a wrong secret apart.
var errUnauthenticated = &model.Error{Code: model.CodeUnauthenticated, Message: "missing or invalid credentials"}

// errAdminTokenOnAppRoute answers an app route called with an admin token:
// only a caller who holds that token learns that it is one.
var errAdminTokenOnAppRoute = &model.Error{Code: model.CodeUnauthenticated,
	Message: "this is the admin token, which works only on admin routes; app routes take an app's client secret in X-Api-Key (or Basic clientId:secret)"}

// AuthOptions configures an Authenticator.
type AuthOptions struct {
	Store store.Store
	// CacheSize bounds the authenticated-app cache (cache.apps); at least 1.
	CacheSize int
	// CacheTTL bounds the age of a cache entry (the broker: AppCacheTTL);
	// 0 = no bound.
	CacheTTL time.Duration
	// AdminToken may do everything on admin routes; empty refuses every
	// admin call (the broker fails closed).
	AdminToken string
	// AdminReadToken may only read on admin routes; optional.
	AdminReadToken string
	// AppRate is the broker-wide per-app limit in requests per second
	// (security.rateLimits.app; 0 = none) and AppBurst its burst (0 = the
	// rate rounded up); an app's own RateLimit overrides AppRate.
	AppRate  float64
	AppBurst int
	Now      func() time.Time
}

// Authenticator authenticates apps (client secret) and admins (bearer
// token). It is safe for concurrent use.
type Authenticator struct {
	opts     AuthOptions // as given, for Options
	store    store.Store
	cache    *cache.Cache[[sha256.Size]byte, cachedApp] // key: SHA-256 of the presented secret
	ttl      time.Duration
	now      func() time.Time
	admin    []byte // SHA-256 of the tokens, so the compare leaks no length
	adminRO  []byte
	hasAdmin bool
	limits   *appLimiter
}

type cachedApp struct {
	app     *model.App
	expires time.Time // zero: no bound
}

// NewAuthenticator returns an Authenticator. A missing Store or a bound
// that cannot work is an error; nothing is replaced by a default.
func NewAuthenticator(o AuthOptions) (*Authenticator, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("middleware: AuthOptions.Store is required")
	case o.CacheSize < 1:
		return nil, fmt.Errorf("middleware: CacheSize %d: must be at least 1", o.CacheSize)
	case o.CacheTTL < 0 || o.AppRate < 0 || o.AppBurst < 0:
		return nil, errors.New("middleware: CacheTTL, AppRate and AppBurst must not be negative")
	}
	c, err := cache.New[[sha256.Size]byte, cachedApp](o.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("middleware: app cache: %w", err)
	}
	kept := o
	kept.AdminToken, kept.AdminReadToken = "", ""
	a := &Authenticator{opts: kept, store: o.Store, cache: c, ttl: o.CacheTTL, now: o.Now, limits: newAppLimiter(o.AppRate, o.AppBurst)}
	if a.now == nil {
		a.now = time.Now
	}
	if o.AdminToken != "" {
		a.hasAdmin = true
		a.admin = hashToken(o.AdminToken)
		if o.AdminReadToken != "" {
			a.adminRO = hashToken(o.AdminReadToken)
		}
	}
	return a, nil
}

// Options are the options the Authenticator was built with, as given, but
// without the admin tokens: it keeps only their hashes.
func (a *Authenticator) Options() AuthOptions {
	o := a.opts
	o.Store, o.CacheTTL = a.store, a.ttl
	return o
}

func hashToken(t string) []byte {
	s := sha256.Sum256([]byte(t))
	return s[:]
}

// wwwAuthenticateApp is the challenge of the app routes: a scheme no
// browser prompts for.
const wwwAuthenticateApp = `ApiKey realm="broker", header="X-Api-Key"`

// App authenticates the calling app by `X-Api-Key: <secret>` (preferred when
// both are sent) or `Authorization: Basic base64(clientId:secret)`; any other
// Authorization scheme, an admin token included, is refused. The app is then
// available through AppFrom.
func (a *Authenticator) App() gin.HandlerFunc {
	return func(c *gin.Context) {
		app, err := a.authenticateApp(c)
		if err != nil {
			if err == errUnauthenticated && a.sentAdminToken(c) {
				err = errAdminTokenOnAppRoute
			}
			if model.CodeOf(err) == model.CodeUnauthenticated {
				// Not "Basic": a browser that meets a Basic challenge on
				// the broker's origin shows a login box and then keeps
				// sending what was typed (docs/security.md §10). Apps send
				// X-Api-Key or preemptive Basic and need no challenge.
				c.Header("WWW-Authenticate", wwwAuthenticateApp)
			}
			Fail(c, err)
			return
		}
		if d := a.limits.reserve(app, a.now()); d > 0 {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
			Fail(c, model.ErrRateLimited)
			return
		}
		setApp(c, app)
		c.Next()
	}
}

func (a *Authenticator) authenticateApp(c *gin.Context) (*model.App, error) {
	secret, clientID, ok := appCredentials(c)
	if !ok {
		return nil, errUnauthenticated
	}
	// The cache key is a digest of the presented secret: only a secret that
	// verified before can hit, and the secret itself is not kept in memory.
	key := secretDigest(secret)
	if e, ok := a.cache.Get(key); ok && (e.expires.IsZero() || a.now().Before(e.expires)) {
		if clientID != "" && clientID != e.app.ID {
			return nil, errUnauthenticated
		}
		return e.app, nil
	}
	appID, ok := secrets.AppIDFromSecret(secret)
	if !ok || (clientID != "" && clientID != appID) {
		// Cost the same as a store miss would, minus the read.
		secrets.VerifyAppSecret(secret, secrets.DummyHash)
		return nil, errUnauthenticated
	}
	epoch := a.cache.Epoch()
	app, err := a.store.GetApp(c.Request.Context(), appID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		secrets.VerifyAppSecret(secret, secrets.DummyHash)
		return nil, errUnauthenticated
	case err != nil:
		return nil, err // unavailable → 503; anything else is internal, its cause logged, never shown
	}
	if !secrets.VerifyAppSecret(secret, app.SecretHash) {
		return nil, errUnauthenticated
	}
	e := cachedApp{app: &app}
	if a.ttl > 0 {
		e.expires = a.now().Add(a.ttl)
	}
	// A purge that ran while the store was read may have been for this very
	// app (rotated or deleted after the read): caching it would undo that.
	a.cache.Add(epoch, key, e, nil)
	return &app, nil
}

// secretDigest is the SHA-256 of secret, hashed from a stack copy: a
// []byte conversion of a secret longer than 32 bytes (every app secret)
// would allocate on every request.
func secretDigest(secret string) [sha256.Size]byte {
	var buf [128]byte
	if len(secret) <= len(buf) {
		return sha256.Sum256(append(buf[:0], secret...))
	}
	return sha256.Sum256([]byte(secret))
}

// appCredentials returns the presented secret and, for Basic, the client id.
// A credential header sent more than once is refused, not resolved by
// picking a copy: a gateway in front may read another copy than this does.
func appCredentials(c *gin.Context) (secret, clientID string, ok bool) {
	k, ok1 := singleHeader(c.Request.Header, HeaderAPIKey)
	h, ok2 := singleHeader(c.Request.Header, "Authorization")
	if !ok1 || !ok2 {
		return "", "", false
	}
	if k != "" {
		return k, "", true
	}
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", false
	}
	id, sec, found := strings.Cut(string(raw), ":")
	if !found || id == "" || sec == "" {
		return "", "", false
	}
	return sec, id, true
}

// Admin authenticates an admin by `Authorization: Bearer <token>`. The
// read-only token passes only when write is false (else 403); without a
// configured admin token every call is refused. App secrets are refused.
func (a *Authenticator) Admin(write bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		role, err := a.authenticateAdmin(c, write)
		if err != nil {
			if model.CodeOf(err) == model.CodeUnauthenticated {
				c.Header("WWW-Authenticate", `Bearer realm="broker-admin"`)
			}
			Fail(c, err)
			return
		}
		c.Set(KeyAdmin, role)
		c.Next()
	}
}

func (a *Authenticator) authenticateAdmin(c *gin.Context, write bool) (string, error) {
	authz, single := singleHeader(c.Request.Header, "Authorization")
	scheme, tok, found := strings.Cut(authz, " ")
	if !single || !found || !strings.EqualFold(scheme, "Bearer") {
		return "", errUnauthenticated
	}
	h := hashToken(strings.TrimSpace(tok))
	isAdmin := subtle.ConstantTimeCompare(h, a.admin) == 1
	isRO := a.adminRO != nil && subtle.ConstantTimeCompare(h, a.adminRO) == 1
	switch {
	case !a.hasAdmin:
		return "", errUnauthenticated
	case isAdmin:
		return "write", nil
	case isRO && !write:
		return "read", nil
	case isRO:
		return "", model.Errorf(model.CodePermissionDenied, "the read-only admin token cannot change anything")
	default:
		return "", errUnauthenticated
	}
}

// sentAdminToken reports whether the request carries an admin token (write
// or read-only) as a bearer token or as X-Api-Key. The compare is constant
// time over digests, as in authenticateAdmin.
func (a *Authenticator) sentAdminToken(c *gin.Context) bool {
	if !a.hasAdmin {
		return false
	}
	is := func(tok string) bool {
		if tok == "" {
			return false
		}
		h := hashToken(tok)
		admin := subtle.ConstantTimeCompare(h, a.admin)
		ro := 0
		if a.adminRO != nil {
			ro = subtle.ConstantTimeCompare(h, a.adminRO)
		}
		return admin|ro == 1
	}
	if k, ok := singleHeader(c.Request.Header, HeaderAPIKey); ok && is(strings.TrimSpace(k)) {
		return true
	}
	authz, ok := singleHeader(c.Request.Header, "Authorization")
	scheme, tok, found := strings.Cut(authz, " ")
	return ok && found && strings.EqualFold(scheme, "Bearer") && is(strings.TrimSpace(tok))
}

// singleHeader returns the value of header name (canonical form), "" when
// absent; ok is false when it was sent more than once.
func singleHeader(h http.Header, name string) (v string, ok bool) {
	switch vs := h[name]; len(vs) {
	case 0:
		return "", true
	case 1:
		return vs[0], true
	default:
		return "", false
	}
}

// RequirePermission lets the request through only when the authenticated
// app holds permission p; it runs after Authenticator.App.
func RequirePermission(p model.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		app := AppFrom(c)
		if app == nil {
			Fail(c, errUnauthenticated)
			return
		}
		if !app.Has(p) {
			Fail(c, model.Errorf(model.CodePermissionDenied, "the app lacks the permission %s", p))
			return
		}
		c.Next()
	}
}

// Purge drops the cached entries of one app, so its next request reads the
// store: call it when the app is deleted, rotated or changed.
func (a *Authenticator) Purge(appID string) {
	a.cache.RemoveFunc(func(_ [sha256.Size]byte, e cachedApp) bool { return e.app.ID == appID })
}

// PurgeAll empties the cache (a store watcher lost track of changes).
func (a *Authenticator) PurgeAll() { a.cache.Purge() }
