package providers

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// FieldError is one problem in the provider configuration, named by its
// broker.yaml path, e.g. "providers.google.clientId".
type FieldError struct {
	Path    string
	Message string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Message }

// ResolveOptions are the server settings that change what a provider may be.
type ResolveOptions struct {
	// AllowInsecureLoopback lets provider URLs use plain http, but only to
	// 127.0.0.1, localhost or [::1] (development, tests and benchmarks).
	AllowInsecureLoopback bool
	// Rooms are the rooms `quirks:` may name (providers/registry.Rooms for
	// the broker); a name not in it is a config error.
	Rooms Rooms
}

// Defaults applied by Resolve to a field that neither the catalog nor
// broker.yaml sets.
const (
	DefaultScopeSeparator = " "
	DefaultAuthStyle      = "body"
	DefaultTestMethod     = "GET"
	DefaultEvents         = "none"
)

// Client authentication styles at the token endpoint.
const (
	AuthStyleBody  = "body"  // client_id and client_secret in the form body
	AuthStyleBasic = "basic" // HTTP Basic with the client id and secret
)

// Resolve merges the broker.yaml overrides onto the embedded catalog, defines
// the providers the catalog lacks, applies every default and validates the
// result. Each problem is a FieldError with its broker.yaml path; when there
// is any, the registry is nil.
//
// Merging goes field by field: a set field of the override wins, maps
// (authParams, headers) merge key by key and an empty value deletes the
// catalog's key, a list (scopes) replaces the catalog's list (an empty list
// clears it). A catalog provider without what its kind needs is resolved but
// not enabled; `enabled: true` on it is an error.
func Resolve(overrides map[string]Spec, opts ResolveOptions) (*Registry, []FieldError) {
	cat, err := Catalog()
	if err != nil {
		return nil, []FieldError{{Path: "providers", Message: err.Error()}}
	}
	ids := slices.Sorted(maps.Keys(cat))
	for id := range overrides {
		if _, ok := cat[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)

	var errs []FieldError
	ps := make([]*Provider, 0, len(ids))
	for _, id := range ids {
		base, inCatalog := cat[id]
		p, es := resolveOne(id, base, inCatalog, overrides[id], opts)
		errs = append(errs, es...)
		if p != nil {
			ps = append(ps, p)
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			if errs[i].Path != errs[j].Path {
				return errs[i].Path < errs[j].Path
			}
			return errs[i].Message < errs[j].Message
		})
		return nil, errs
	}
	return NewRegistry(ps...), nil
}

// resolveOne merges, substitutes, validates and defaults one provider.
func resolveOne(id string, base Spec, inCatalog bool, over Spec, opts ResolveOptions) (*Provider, []FieldError) {
	c := checker{prefix: "providers." + id}
	if !validID(id) {
		c.add("", "invalid provider id: use 1 to 63 lowercase letters, digits, - or _, starting with a letter or digit")
	}
	if inCatalog && over.Kind != "" && over.Kind != base.Kind {
		c.add("kind", fmt.Sprintf("a catalog provider keeps its kind (%s)", base.Kind))
		over.Kind = ""
	}
	s := merge(base, over)
	switch {
	case s.Kind == "":
		c.add("kind", "required for a provider that is not in the catalog (oauth2, apikey or basic)")
		return nil, c.errs
	case s.Kind != KindOAuth2 && s.Kind != KindAPIKey && s.Kind != KindBasic:
		c.add("kind", "must be oauth2, apikey or basic")
		return nil, c.errs
	}

	c.substitute(&s)
	c.checkKindFields(&s)
	c.checkURLs(&s, opts)
	c.checkFields(&s)
	c.checkRoom(&s, opts.Rooms)
	lifetime := c.checkLifetime(s.TokenLifetime)

	ready := hasWhatKindNeeds(&s)
	if s.Enabled != nil && *s.Enabled && !ready {
		c.requireForEnabled(&s)
	}
	if s.Enabled == nil {
		// An OAuth provider without a broker-wide client stays available:
		// an app may register its own client for it ("your own auth"), and
		// the provider is offered to that app only (see Registry users).
		on := ready || (s.Kind == KindOAuth2 && s.AuthURL != "" && s.TokenURL != "")
		s.Enabled = &on
	}
	applyDefaults(id, &s)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return &Provider{ID: id, Spec: s, TokenLifetimeD: lifetime, Room: opts.Rooms[s.Quirks]}, nil
}

// merge lays the set fields of over onto a copy of base. It walks Spec by
// reflection so a field added to Spec later merges without a change here.
func merge(base, over Spec) Spec {
	out := cloneSpec(base)
	o := cloneSpec(over)
	ov, dst := reflect.ValueOf(o), reflect.ValueOf(&out).Elem()
	for i := range ov.NumField() {
		f := ov.Field(i)
		if f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Map {
			m := dst.Field(i)
			if m.IsNil() {
				m.Set(reflect.MakeMap(f.Type()))
			}
			iter := f.MapRange()
			for iter.Next() {
				if iter.Value().IsZero() {
					m.SetMapIndex(iter.Key(), reflect.Value{}) // "" deletes the key
				} else {
					m.SetMapIndex(iter.Key(), iter.Value())
				}
			}
			continue
		}
		dst.Field(i).Set(f)
	}
	return out
}

// hasWhatKindNeeds: an oauth2 provider needs the broker-wide client; a
// credentials provider needs the server its credentials are for.
func hasWhatKindNeeds(s *Spec) bool {
	if s.Kind == KindOAuth2 {
		return s.ClientID != "" && s.ClientSecret != ""
	}
	return s.APIBaseURL != ""
}

func (c *checker) requireForEnabled(s *Spec) {
	const msg = "required when the provider is enabled"
	if s.Kind == KindOAuth2 {
		if s.ClientID == "" {
			c.add("clientId", msg)
		}
		if s.ClientSecret == "" {
			c.add("clientSecret", msg)
		}
		return
	}
	c.add("apiBaseUrl", msg)
}

// applyDefaults fills what Provider promises is always set.
func applyDefaults(id string, s *Spec) {
	if s.Name == "" {
		s.Name = id
	}
	if s.ScopeSeparator == "" {
		s.ScopeSeparator = DefaultScopeSeparator
	}
	if s.AuthStyle == "" {
		s.AuthStyle = DefaultAuthStyle
	}
	if s.TestMethod == "" {
		s.TestMethod = DefaultTestMethod
	}
	if s.Events == "" {
		s.Events = DefaultEvents
	}
	if s.PKCE == nil {
		pkce := s.Kind == KindOAuth2
		s.PKCE = &pkce
	}
	if s.RotatesRefreshTokens == nil {
		s.RotatesRefreshTokens = new(bool)
	}
	if s.KeepAlive == nil {
		s.KeepAlive = new(bool)
	}
	if s.Inject == nil {
		s.Inject = &Inject{Type: InjectBearer}
		if s.Kind == KindBasic {
			s.Inject.Type = InjectBasic
		}
	}
	// Header names in canonical form once here, so injecting them on the
	// proxy's hot path costs no canonicalization per request.
	if s.Inject.Type == InjectHeader {
		inj := *s.Inject
		inj.Name = http.CanonicalHeaderKey(inj.Name)
		s.Inject = &inj
	}
	if len(s.Headers) > 0 {
		h := make(map[string]string, len(s.Headers))
		for k, v := range s.Headers {
			h[http.CanonicalHeaderKey(k)] = v
		}
		s.Headers = h
	}
}

// substitute replaces {tenant} in every URL and the issuer, and {apiBaseUrl}
// in the test and user-info URLs (CalDAV tests the server it is given).
func (c *checker) substitute(s *Spec) {
	fields := urlFields(s)
	hasTenant := false
	for _, f := range fields {
		if strings.Contains(*f.val, "{tenant}") {
			hasTenant = true
		}
	}
	switch {
	case !hasTenant && s.Tenant != "":
		c.add("tenant", "only for a provider whose URLs contain {tenant}")
	case hasTenant:
		tenant := s.Tenant
		if tenant == "" {
			c.add("tenant", "required: the provider's URLs contain {tenant}")
			tenant = "invalid" // keeps the URL checks from repeating the error
		} else if !validTenant(tenant) {
			c.add("tenant", "must be a tenant id, a domain, common, organizations or consumers")
			tenant = "invalid"
		}
		for _, f := range fields {
			*f.val = strings.ReplaceAll(*f.val, "{tenant}", tenant)
		}
	}
	s.TestURL = strings.ReplaceAll(s.TestURL, "{apiBaseUrl}", s.APIBaseURL)
	s.UserInfoURL = strings.ReplaceAll(s.UserInfoURL, "{apiBaseUrl}", s.APIBaseURL)
}

// checkLifetime parses tokenLifetime (0 when unset).
func (c *checker) checkLifetime(v string) time.Duration {
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		c.add("tokenLifetime", "must be a positive duration such as 30m or 1h")
		return 0
	}
	return d
}
