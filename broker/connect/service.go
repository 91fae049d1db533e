package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/state"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/providers"
)

// SessionTTL is how long an end user has, from POST /v1/connect/oauth, to
// come back through the callback. It is fixed, not configured.
const SessionTTL = 10 * time.Minute

// Input limits. They bound what is stored per flow and echoed back.
const (
	MaxScheduleIDLen = 256
	MaxAppStateLen   = 1024
	MaxLoginHintLen  = 256
	MaxScopes        = 50
	MaxScopeLen      = 256
	MaxCodeLen       = 4096
	MaxCredentialLen = 4096
	MaxNameLen       = 256
)

// Options configure a Service. Store, Tokens, Providers, State, PublicURL
// and HTTPClient are required; New refuses a Service without them.
type Options struct {
	Store     store.Store
	Tokens    *tokens.Manager
	Providers *providers.Registry
	State     *state.Signer
	// PublicURL is the broker's external base URL; the callback is
	// {PublicURL}/oauth/callback, never derived from a request's Host.
	PublicURL string
	// HTTPClient calls token, user-info and test endpoints; it must not
	// follow redirects (providers.NewHTTPClient).
	HTTPClient *http.Client
	// AllowLoopbackLogos lets the hosted page fetch an app's logo from a
	// loopback address (server.allowInsecureLoopback).
	AllowLoopbackLogos bool
	Now                func() time.Time
	// Logger receives the flows' warnings; nil = none.
	Logger *slog.Logger
	// Telemetry counts finished flows (broker.connect.flows); nil: none.
	Telemetry *telemetry.Telemetry
	// MaxPendingSessions caps one app's unexpired, unfinished sessions
	// (security.rateLimits.maxPendingSessions), so no app can fill the
	// sessions table; 0 = no cap.
	MaxPendingSessions int
}

// Service runs the connect flows and the per-app connection operations.
type Service struct {
	opts     Options // as given, for Options
	st       store.Store
	tok      *tokens.Manager
	reg      *providers.Registry
	signer   *state.Signer
	hc       *http.Client
	now      func() time.Time
	log      *slog.Logger
	base     string // PublicURL without a trailing slash
	callback string // {base}/oauth/callback
	cookie   string // the binding cookie's Path: {base path}/oauth
	pagePath string // the hosted pages' path and cookie Path: {base path}/connect
	origin   string // scheme://host[:port] of PublicURL
	logos    *logoCache
	tries    *attempts // credentials submitted per hosted page
	pending  int       // MaxPendingSessions
	secure   bool      // the binding cookie is Secure when PublicURL is https
	metrics  *telemetry.Metrics
}

// New builds a Service. A missing dependency, or a PublicURL that is not an
// absolute http(s) URL, is an error.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Tokens == nil || o.Providers == nil || o.State == nil || o.HTTPClient == nil {
		return nil, errors.New("connect: Store, Tokens, Providers, State and HTTPClient are required")
	}
	if o.MaxPendingSessions < 0 {
		return nil, fmt.Errorf("connect: MaxPendingSessions %d: must not be negative", o.MaxPendingSessions)
	}
	given := o
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	base := strings.TrimSuffix(o.PublicURL, "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errors.New("connect: PublicURL must be an absolute http or https URL")
	}
	basePath := strings.TrimSuffix(u.Path, "/")
	return &Service{
		opts: given, st: o.Store, tok: o.Tokens, reg: o.Providers, signer: o.State, hc: o.HTTPClient,
		now: o.Now, log: o.Logger,
		base: base, callback: base + "/oauth/callback", cookie: basePath + "/oauth",
		pagePath: basePath + "/connect", origin: originOf(base),
		secure:  strings.HasPrefix(strings.ToLower(base), "https://"),
		logos:   newLogoCache(o.AllowLoopbackLogos, o.Now),
		tries:   newAttempts(),
		pending: o.MaxPendingSessions,
		metrics: o.Telemetry.Metrics(),
	}, nil
}

// Options are the options the Service runs with, read back from what it
// uses where it keeps them apart.
func (s *Service) Options() Options {
	o := s.opts
	o.Store, o.Tokens, o.Providers, o.State, o.HTTPClient, o.MaxPendingSessions = s.st, s.tok, s.reg, s.signer, s.hc, s.pending
	return o
}

// CallbackURL is the redirect_uri the broker registers with providers.
func (s *Service) CallbackURL() string { return s.callback }

// provider returns an enabled provider of one of the given kinds, or an
// invalid_argument on providerId. A disabled provider looks like an unknown
// one: an app cannot tell them apart.
func (s *Service) provider(id string, kinds ...providers.Kind) (*providers.Provider, error) {
	if id == "" {
		return nil, model.Invalid("providerId", "is required")
	}
	p, ok := s.reg.Get(id)
	if !ok || !p.IsEnabled() {
		return nil, model.Invalid("providerId", "unknown provider")
	}
	for _, k := range kinds {
		if p.Kind == k {
			return p, nil
		}
	}
	return nil, model.Invalid("providerId", "provider %q does not connect this way", id)
}

// oauthClient picks the OAuth client a new connection of app to p uses:
// the app's own, else the broker-wide one. Neither means the provider is
// not offered to this app.
func (s *Service) oauthClient(ctx context.Context, appID string, p *providers.Provider) (providers.Client, model.ClientSource, error) {
	c, src, err := s.tok.PickClient(ctx, appID, p)
	if errors.Is(err, model.ErrNotFound) {
		return c, src, model.Invalid("providerId", "provider %q is not offered to this app", p.ID)
	}
	if err != nil {
		return c, src, fmt.Errorf("connect: picking the OAuth client: %w", err)
	}
	return c, src, nil
}

// Offered returns the enabled providers an app may connect, sorted by id:
// credentials providers always, OAuth providers when the broker or the app
// has a client for them.
func (s *Service) Offered(ctx context.Context, appID string) ([]*providers.Provider, error) {
	var out []*providers.Provider
	for _, p := range s.reg.All() {
		if !p.IsEnabled() {
			continue
		}
		if p.Kind == providers.KindOAuth2 && !p.HasBrokerClient() {
			_, err := s.st.GetAppProvider(ctx, appID, p.ID)
			if errors.Is(err, model.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("connect: reading the app's provider clients: %w", err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// checkText validates a free-text field: valid UTF-8, no control
// characters, at most max bytes; required fields may not be empty.
func checkText(field, v string, max int, required bool) error {
	if v == "" {
		if required {
			return model.Invalid(field, "is required")
		}
		return nil
	}
	if len(v) > max {
		return model.Invalid(field, "is longer than %d bytes", max)
	}
	if !utf8.ValidString(v) {
		return model.Invalid(field, "is not valid UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return model.Invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// CheckScheduleID is the one rule of a schedule id, wherever one is given
// (connect bodies, /v1/connections, /v1/events and /v1/freebusy): 1 to 256
// printable ASCII characters without spaces, so it can sit in a query
// string and a log line as is.
func CheckScheduleID(v string) error {
	if v == "" {
		return model.Invalid("scheduleId", "is required")
	}
	if len(v) > MaxScheduleIDLen {
		return model.Invalid("scheduleId", "is longer than %d characters", MaxScheduleIDLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c >= 0x7f {
			return model.Invalid("scheduleId", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// checkScopes validates requested scopes: printable ASCII without spaces or
// the provider's separator, so they join into one unambiguous parameter.
func checkScopes(scopes []string, sep string) error {
	if len(scopes) > MaxScopes {
		return model.Invalid("scopes", "has more than %d entries", MaxScopes)
	}
	for _, sc := range scopes {
		if sc == "" || len(sc) > MaxScopeLen {
			return model.Invalid("scopes", "each scope must be 1 to %d characters", MaxScopeLen)
		}
		for i := 0; i < len(sc); i++ {
			if c := sc[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
				return model.Invalid("scopes", "scopes must be printable ASCII without spaces, quotes or backslashes")
			}
		}
		if sep != "" && sep != " " && strings.Contains(sc, sep) {
			return model.Invalid("scopes", "a scope must not contain the provider's separator %q", sep)
		}
	}
	return nil
}

// union returns base followed by the extra entries not already in it.
func union(base, extra []string) []string {
	out := append([]string(nil), base...)
	seen := make(map[string]bool, len(base)+len(extra))
	for _, s := range base {
		seen[s] = true
	}
	for _, s := range extra {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
