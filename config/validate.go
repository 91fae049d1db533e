package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/registry"
)

// Minimum lengths of secrets.
const (
	MinStateSecretBytes      = 32 // HMAC key of the JWT state
	EncryptionKeyBytes       = 32 // AES-256
	MinProductionAdminToken  = 32 // characters; development tokens are generated
	DemoProviderID           = "demo"
	productionRefusesDevKeys = "required in production (development keys are refused)"
)

var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Validate checks the whole config and returns every problem at once as
// ValidationErrors (nil when there is none). It also resolves the providers,
// so a provider problem is reported here with its path.
func (c *Config) Validate() error {
	var v ValidationErrors
	c.validateServer(&v)
	c.validateStore(&v)
	c.validateSecurity(&v)
	c.validateRest(&v)
	c.validateWebhooks(&v)
	c.validateProviders(&v)
	if len(v) == 0 {
		return nil
	}
	return v.sorted()
}

// ProviderRegistry resolves the providers of this config against the
// catalog. Validate reports the same problems with their paths.
func (c *Config) ProviderRegistry() (*providers.Registry, error) {
	reg, perrs := registry.Resolve(c.Providers, c.resolveOptions())
	if len(perrs) > 0 {
		return nil, convert(perrs).sorted()
	}
	return reg, nil
}

func (c *Config) resolveOptions() providers.ResolveOptions {
	return providers.ResolveOptions{AllowInsecureLoopback: c.Server.LoopbackAllowed()}
}

// LoopbackAllowed is server.allowInsecureLoopback with the production guard:
// plain http to loopback is never allowed in production, whatever the key
// says. Every use of the key (providers, webhooks, logos) goes through it.
func (s Server) LoopbackAllowed() bool { return s.AllowInsecureLoopback && !s.Production }

func convert(perrs []providers.FieldError) ValidationErrors {
	out := make(ValidationErrors, len(perrs))
	for i, e := range perrs {
		out[i] = FieldError{Path: e.Path, Message: e.Message}
	}
	return out
}

func (c *Config) validateServer(v *ValidationErrors) {
	s := c.Server
	validateListen(v, "server.listen", s.Listen, "127.0.0.1:8080 or :8080")
	validatePublicURL(s.PublicURL, s.Production, c.PublicURLFollowsListen(), v)
	if s.DataDir == "" {
		v.add("server.dataDir", "required")
	}
	positive(v, "server.shutdownGrace", s.ShutdownGrace)
	positive(v, "server.readHeaderTimeout", s.ReadHeaderTimeout)
	positive(v, "server.readTimeout", s.ReadTimeout)
	positive(v, "server.writeTimeout", s.WriteTimeout)
	positive(v, "server.idleTimeout", s.IdleTimeout)
	if s.WriteTimeout > 0 && c.Proxy.Timeout > 0 && s.WriteTimeout <= c.Proxy.Timeout {
		v.add("server.writeTimeout", fmt.Sprintf("must be longer than proxy.timeout (%s), so proxied calls can finish", c.Proxy.Timeout))
	}
	for i, p := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				v.add(fmt.Sprintf("server.trustedProxies[%d]", i), fmt.Sprintf("%q is not an IP address or CIDR", p))
			}
		}
	}
	if s.MaxHeaderBytes <= 0 {
		v.add("server.maxHeaderBytes", "must be positive")
	}
	if s.Production && s.AllowInsecureLoopback {
		v.add("server.allowInsecureLoopback", "refused in production")
	}
	if s.Production && c.Demo {
		v.add("demo", "refused in production")
	}
}

// validatePublicURL: the callback is {publicUrl}/oauth/callback, so it must
// be an absolute http(s) URL a browser can reach. Production takes only an
// explicit https URL: one derived from listen is a development guess, and a
// plain-http callback would carry codes and cookies in the clear.
func validatePublicURL(raw string, production, derived bool, v *ValidationErrors) {
	const p = "server.publicUrl"
	switch {
	case production && derived:
		v.add(p, "required in production: the https URL browsers reach the broker at, such as https://broker.example.com (unset, it follows server.listen: "+raw+")")
		return
	case derived && raw == "":
		return // server.listen is refused; publicUrl has nothing to follow
	case derived && strings.HasSuffix(raw, ":0"):
		v.add(p, "required when server.listen has port 0: the port is only known once the broker listens")
		return
	case raw == "":
		v.add(p, "required")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		v.add(p, "must be an absolute http or https URL, such as https://broker.example.com")
	case u.User != nil:
		v.add(p, "must not contain user info")
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#"):
		v.add(p, "must not have a query or fragment")
	case production && u.Scheme != "https":
		v.add(p, "must be https in production")
	}
}

func (c *Config) validateStore(v *ValidationErrors) {
	switch c.Store.Driver {
	case DriverSQLite:
	case DriverPostgres:
		if c.Store.DSN == "" {
			v.add("store.dsn", "required for postgres")
		}
	default:
		v.add("store.driver", "must be sqlite or postgres")
	}
	if c.Store.MaxConns < 1 {
		v.add("store.maxConns", "must be at least 1")
	}
}

func (c *Config) validateSecurity(v *ValidationErrors) {
	s := c.Security
	prod := c.Server.Production
	switch {
	case prod && s.AdminToken == "":
		v.add("security.adminToken", "required in production (admin calls fail closed without it)")
	case prod && len(s.AdminToken) < MinProductionAdminToken:
		v.add("security.adminToken", fmt.Sprintf("must be at least %d characters in production", MinProductionAdminToken))
	}
	if s.AdminReadToken != "" {
		if s.AdminReadToken == s.AdminToken {
			v.add("security.adminReadToken", "must differ from security.adminToken")
		} else if prod && len(s.AdminReadToken) < MinProductionAdminToken {
			v.add("security.adminReadToken", fmt.Sprintf("must be at least %d characters in production", MinProductionAdminToken))
		}
	}
	validateRing(v, "security.stateKeys", s.StateKeys, prod, func(p string, k Key) {
		if k.Key != "" {
			v.add(p+".key", "not used by state keys (use secret)")
		}
		switch {
		case k.Secret == "" && prod:
			v.add(p+".secret", productionRefusesDevKeys)
		case k.Secret != "" && len(k.Secret) < MinStateSecretBytes:
			v.add(p+".secret", fmt.Sprintf("must be at least %d bytes", MinStateSecretBytes))
		}
	})
	validateRing(v, "security.encryptionKeys", s.EncryptionKeys, prod, func(p string, k Key) {
		if k.Secret != "" {
			v.add(p+".secret", "not used by encryption keys (use key)")
		}
		if k.Key == "" {
			if prod {
				v.add(p+".key", productionRefusesDevKeys)
			}
			return
		}
		raw, err := base64.StdEncoding.DecodeString(k.Key)
		switch {
		case err != nil:
			v.add(p+".key", "must be standard base64 of exactly 32 bytes (broker keys generate prints one)")
		case len(raw) != EncryptionKeyBytes:
			v.add(p+".key", fmt.Sprintf("must be base64 of exactly 32 bytes, not %d", len(raw)))
		}
	})
	r := s.RateLimits
	if r.Burst < 0 {
		v.add("security.rateLimits.burst", "must not be negative")
	}
	if r.MaxPendingSessions < 0 {
		v.add("security.rateLimits.maxPendingSessions", "must not be negative")
	}
	for path, rt := range map[string]Rate{"security.rateLimits.app": r.App,
		"security.rateLimits.browser": r.Browser, "security.rateLimits.sessions": r.Sessions,
		"security.rateLimits.events": r.Events} {
		if rt.Events < 0 || rt.Per < 0 {
			v.add(path, "must not be negative")
		}
	}
}

// validateRing checks a key ring's ids; each calls one for its own rules.
// An empty ring means a development key, which production refuses.
func validateRing(v *ValidationErrors, path string, keys []Key, prod bool, one func(string, Key)) {
	if len(keys) == 0 && prod {
		v.add(path, "at least one key is required in production")
	}
	seen := map[string]bool{}
	for i, k := range keys {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case k.ID == "":
			v.add(p+".id", "required")
		case !keyIDRe.MatchString(k.ID):
			v.add(p+".id", "must be 1 to 64 letters, digits, '.', '_' or '-'")
		case seen[k.ID]:
			v.add(p+".id", fmt.Sprintf("duplicate id %q", k.ID))
		}
		seen[k.ID] = true
		one(p, k)
	}
}

func (c *Config) validateRest(v *ValidationErrors) {
	if c.Cache.Tokens < 1 {
		v.add("cache.tokens", "must be at least 1")
	}
	if c.Cache.Apps < 1 {
		v.add("cache.apps", "must be at least 1")
	}
	if c.Cache.ExpiryMargin < 0 {
		v.add("cache.expiryMargin", "must not be negative")
	}
	p := c.Proxy
	positive(v, "proxy.timeout", p.Timeout)
	positive(v, "proxy.responseHeaderTimeout", p.ResponseHeaderTimeout)
	if p.ResponseHeaderTimeout > p.Timeout && p.Timeout > 0 {
		v.add("proxy.responseHeaderTimeout", fmt.Sprintf("must not exceed proxy.timeout (%s)", p.Timeout))
	}
	if p.MaxRequestBody <= 0 {
		v.add("proxy.maxRequestBody", "must be positive")
	}
	if p.RetryBodyLimit < 0 {
		v.add("proxy.retryBodyLimit", "must not be negative")
	} else if p.RetryBodyLimit > p.MaxRequestBody && p.MaxRequestBody > 0 {
		v.add("proxy.retryBodyLimit", fmt.Sprintf("must not exceed proxy.maxRequestBody (%s)", p.MaxRequestBody))
	}
	if p.MaxResponseHeaderBytes <= 0 || p.MaxResponseHeaderBytes > 16<<20 {
		v.add("proxy.maxResponseHeaderBytes", "must be positive and at most 16MiB")
	}
	positive(v, "refresh.leaseTtl", c.Refresh.LeaseTTL)
	if c.Refresh.RejectedCooldown < 0 {
		v.add("refresh.rejectedCooldown", "must not be negative")
	}

	if k := c.Refresh.KeepAlive; k.Enabled {
		positive(v, "refresh.keepAlive.interval", k.Interval)
		positive(v, "refresh.keepAlive.idleAfter", k.IdleAfter)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.add("log.format", "must be text or json")
	}
	switch c.Telemetry.OTLP.Protocol {
	case "grpc", "http":
	default:
		v.add("telemetry.otlp.protocol", "must be grpc or http")
	}
	if ml := c.Telemetry.MetricsListen; ml != "" {
		validateListen(v, "telemetry.metricsListen", ml, "127.0.0.1:9090")
		if !c.Telemetry.Prometheus {
			v.add("telemetry.metricsListen", "set, but telemetry.prometheus is false: nothing would be served there")
		} else if ml == c.Server.Listen {
			v.add("telemetry.metricsListen", "must differ from server.listen (leave it empty to serve /metrics there)")
		}
	}
}

// validateListen checks a host:port listen address.
func validateListen(v *ValidationErrors, path, addr, example string) {
	if host, port, err := net.SplitHostPort(addr); err != nil || strings.ContainsAny(host, " /") {
		v.add(path, "must be host:port, such as "+example)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "the port must be a number from 0 to 65535")
	}
}

// MaxWebhookConcurrency bounds webhooks.concurrency.
const MaxWebhookConcurrency = 256

func (c *Config) validateWebhooks(v *ValidationErrors) {
	w := c.Webhooks
	positive(v, "webhooks.timeout", w.Timeout)
	positive(v, "webhooks.pollInterval", w.PollInterval)
	if w.Concurrency < 1 || w.Concurrency > MaxWebhookConcurrency {
		v.add("webhooks.concurrency", fmt.Sprintf("must be 1 to %d", MaxWebhookConcurrency))
	}
	for path, d := range map[string]Duration{"webhooks.secretGrace": w.SecretGrace,
		"webhooks.retention": w.Retention, "webhooks.failedRetention": w.FailedRetention} {
		if d < 0 {
			v.add(path, "must not be negative")
		}
	}
}

func (c *Config) validateProviders(v *ValidationErrors) {
	if _, ok := c.Providers[DemoProviderID]; ok {
		v.add("providers."+DemoProviderID, "reserved for the built-in demo provider (serve --demo)")
	}
	_, perrs := registry.Resolve(c.Providers, c.resolveOptions())
	*v = append(*v, convert(perrs)...)
}

func positive(v *ValidationErrors, path string, d Duration) {
	if time.Duration(d) <= 0 {
		v.add(path, "must be a positive duration, such as 20s")
	}
}
