package config

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	key32    = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	secret32 = strings.Repeat("s", 32)
	token32  = strings.Repeat("t", 32)
)

// production is a config that passes in production; tests break one thing.
func production() string {
	return `
server: {production: true, publicUrl: "https://broker.example.com"}
security:
  adminToken: "` + token32 + `"
  stateKeys: [{id: s1, secret: "` + secret32 + `"}]
  encryptionKeys: [{id: e1, key: "` + key32 + `"}]
`
}

func TestProductionConfigValidates(t *testing.T) {
	c := mustParse(t, production(), nil)
	if err := c.Validate(); err != nil {
		t.Fatalf("a complete production config was refused:\n%v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"listen without port", "server: {listen: localhost}\n", []string{
			"server.listen: must be host:port, such as 127.0.0.1:8080 or :8080",
		}},
		{"listen port out of range", "server: {listen: \"127.0.0.1:70000\"}\n", []string{
			"server.listen: the port must be a number from 0 to 65535",
		}},
		{"public url", "server: {publicUrl: \"broker.example.com\"}\n", []string{
			"server.publicUrl: must be an absolute http or https URL, such as https://broker.example.com",
		}},
		{"public url with query", "server: {publicUrl: \"https://b.example.com/?x=1\"}\n", []string{
			"server.publicUrl: must not have a query or fragment",
		}},
		{"store driver and pool", "store: {driver: mysql, maxConns: 0}\n", []string{
			"store.driver: must be sqlite or postgres",
			"store.maxConns: must be at least 1",
		}},
		{"postgres without dsn", "store: {driver: postgres}\n", []string{"store.dsn: required for postgres"}},
		{"durations", "server: {shutdownGrace: 0s, readTimeout: -1s}\nrefresh: {keepAlive: {interval: 0s}}\n", []string{
			"refresh.keepAlive.interval: must be a positive duration, such as 20s",
			"server.readTimeout: must be a positive duration, such as 20s",
			"server.shutdownGrace: must be a positive duration, such as 20s",
		}},
		{"write timeout shorter than the proxy", "server: {writeTimeout: 30s}\nproxy: {timeout: 30s}\n", []string{
			"server.writeTimeout: must be longer than proxy.timeout (30s), so proxied calls can finish",
		}},
		{"proxy limits", "proxy: {responseHeaderTimeout: 1m, retryBodyLimit: 200MiB}\n", []string{
			"proxy.responseHeaderTimeout: must not exceed proxy.timeout (30s)",
			"proxy.retryBodyLimit: must not exceed proxy.maxRequestBody (100MiB)",
		}},
		{"log and telemetry enums", "log: {level: verbose, format: xml}\ntelemetry: {otlp: {protocol: udp}}\n", []string{
			"log.format: must be text or json",
			"log.level: must be debug, info, warn or error",
			"telemetry.otlp.protocol: must be grpc or http",
		}},
		{"metrics listen", "telemetry: {metricsListen: nine}\n", []string{
			"telemetry.metricsListen: must be host:port, such as 127.0.0.1:9090",
		}},
		{"metrics listen without metrics", "telemetry: {metricsListen: \"127.0.0.1:9090\", prometheus: false}\n", []string{
			"telemetry.metricsListen: set, but telemetry.prometheus is false: nothing would be served there",
		}},
		{"metrics listen on the main port", "server: {listen: \"127.0.0.1:8080\"}\ntelemetry: {metricsListen: \"127.0.0.1:8080\"}\n", []string{
			"telemetry.metricsListen: must differ from server.listen (leave it empty to serve /metrics there)",
		}},
		{"cache and rates", "cache: {tokens: 0, apps: -1, expiryMargin: -1s}\nsecurity: {rateLimits: {burst: -2}}\n", []string{
			"cache.apps: must be at least 1",
			"cache.expiryMargin: must not be negative",
			"cache.tokens: must be at least 1",
			"security.rateLimits.burst: must not be negative",
		}},
		{"encryption keys", `security:
  encryptionKeys:
    - {id: e1, key: "not base64!"}
    - {id: e1, key: "` + base64.StdEncoding.EncodeToString(make([]byte, 16)) + `"}
    - {id: "", secret: x}
`, []string{
			"security.encryptionKeys[0].key: must be standard base64 of exactly 32 bytes (broker keys generate prints one)",
			"security.encryptionKeys[1].id: duplicate id \"e1\"",
			"security.encryptionKeys[1].key: must be base64 of exactly 32 bytes, not 16",
			"security.encryptionKeys[2].id: required",
			"security.encryptionKeys[2].secret: not used by encryption keys (use key)",
		}},
		{"state keys", "security:\n  stateKeys: [{id: s1, secret: short}, {id: \"s 2\", key: x}]\n", []string{
			"security.stateKeys[0].secret: must be at least 32 bytes",
			"security.stateKeys[1].id: must be 1 to 64 letters, digits, '.', '_' or '-'",
			"security.stateKeys[1].key: not used by state keys (use secret)",
		}},
		{"read token equal to admin token", "security: {adminToken: abc, adminReadToken: abc}\n", []string{
			"security.adminReadToken: must differ from security.adminToken",
		}},
		{"provider enabled without credentials", "providers:\n  google: {enabled: true}\n", []string{
			"providers.google.clientId: required when the provider is enabled",
			"providers.google.clientSecret: required when the provider is enabled",
		}},
		{"new provider without kind", "providers:\n  booking: {name: Booking}\n", []string{
			"providers.booking.kind: required for a provider that is not in the catalog (oauth2, apikey or basic)",
		}},
		{"provider over plain http", `providers:
  booking:
    kind: oauth2
    authUrl: http://booking.example.com/authorize
    tokenUrl: https://booking.example.com/token
`, []string{
			"providers.booking.authUrl: must be https (plain http only to 127.0.0.1, localhost or [::1], and only with server.allowInsecureLoopback)",
		}},
		{"loopback http needs the server option", `providers:
  local: {kind: apikey, apiBaseUrl: "http://127.0.0.1:9000/api", inject: {type: query}}
`, []string{
			"providers.local.apiBaseUrl: must be https (plain http only to 127.0.0.1, localhost or [::1], and only with server.allowInsecureLoopback)",
			"providers.local.inject.name: required for inject type query",
		}},
		{"provider URLs are SSRF targets over https too", `providers:
  inner: {kind: apikey, apiBaseUrl: "https://169.254.169.254/latest", testUrl: "https://[::ffff:10.0.0.1]/me"}
  meta: {kind: basic, apiBaseUrl: "https://metadata.google.internal/x"}
  octal: {kind: apikey, apiBaseUrl: "https://0177.0.0.1/api"}
  loop: {kind: apikey, apiBaseUrl: "https://localhost/api"}
`, []string{
			"providers.inner.apiBaseUrl: must not point to an internal address: its host is a link-local or metadata address",
			"providers.inner.testUrl: must not point to an internal address: its host is a private address",
			"providers.loop.apiBaseUrl: must not point to an internal address: its host is a loopback name (localhost is allowed only with server.allowInsecureLoopback)",
			"providers.meta.apiBaseUrl: must not point to an internal address: its host is a cloud metadata or internal name",
			"providers.octal.apiBaseUrl: must not point to an internal address: its host is a loopback address (allowed only with server.allowInsecureLoopback)",
		}},
		{"demo id reserved", "providers:\n  demo: {kind: apikey, apiBaseUrl: \"https://demo.example.com\"}\n", []string{
			"providers.demo: reserved for the built-in demo provider (serve --demo)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.yml, nil)
			assertErrors(t, c.Validate(), tc.want...)
		})
	}
}

func TestProductionRefuses(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"development keys and no admin token", "server: {production: true, publicUrl: \"https://b.example.com\"}\n", []string{
			"security.adminToken: required in production (admin calls fail closed without it)",
			"security.encryptionKeys[0].key: required in production (development keys are refused)",
			"security.stateKeys[0].secret: required in production (development keys are refused)",
		}},
		{"empty key rings", "server: {production: true, publicUrl: \"https://b.example.com\"}\nsecurity: {adminToken: \"" + token32 + "\", stateKeys: [], encryptionKeys: []}\n", []string{
			"security.encryptionKeys: at least one key is required in production",
			"security.stateKeys: at least one key is required in production",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertErrors(t, mustParse(t, tc.yml, nil).Validate(), tc.want...)
		})
	}

	c := mustParse(t, production(), nil)
	c.Demo = true
	c.Server.PublicURL = "http://broker.example.com"
	c.Server.AllowInsecureLoopback = true
	c.Security.AdminToken = "short"
	c.Security.AdminReadToken = "also-short"
	c.Providers = nil
	assertErrors(t, c.Validate(),
		"demo: refused in production",
		"security.adminReadToken: must be at least 32 characters in production",
		"security.adminToken: must be at least 32 characters in production",
		"server.allowInsecureLoopback: refused in production",
		"server.publicUrl: must be https in production",
	)

	// Only an explicit https URL: not plain http on loopback, and not the
	// one that follows listen when publicUrl is unset.
	c = mustParse(t, production(), nil)
	c.Server.PublicURL = "http://localhost:8080"
	assertErrors(t, c.Validate(), "server.publicUrl: must be https in production")
	c = mustParse(t, strings.Replace(production(), `, publicUrl: "https://broker.example.com"`, "", 1), nil)
	assertErrors(t, c.Validate(), "server.publicUrl: required in production: the https URL browsers reach the broker at, such as https://broker.example.com (unset, it follows server.listen: http://localhost:8080)")
}

// publicUrl follows listen unless the file sets it, also when serve
// --listen changes listen after the file was read.
func TestPublicURLFollowsListen(t *testing.T) {
	for listen, want := range map[string]string{
		":8080": "http://localhost:8080", "0.0.0.0:9000": "http://localhost:9000", "127.0.0.1:8081": "http://localhost:8081",
		"[::]:8082": "http://localhost:8082", "[::1]:8083": "http://localhost:8083", "10.0.0.5:80": "http://10.0.0.5:80",
		"broker.internal:8443": "http://broker.internal:8443",
	} {
		c := mustParse(t, "server: {listen: \""+listen+"\"}\n", nil)
		if c.Server.PublicURL != want || !c.PublicURLFollowsListen() {
			t.Errorf("listen %s: publicUrl %q, want %q", listen, c.Server.PublicURL, want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("listen %s: %v", listen, err)
		}
	}
	for name, c := range map[string]*Config{"Default()": Default(), "an empty file": mustParse(t, "", nil), "a file without server": mustParse(t, "log: {level: info}\n", nil)} {
		c.SetListen(":9090")
		if c.Server.PublicURL != "http://localhost:9090" {
			t.Errorf("%s then --listen :9090: publicUrl %q", name, c.Server.PublicURL)
		}
	}
	c := mustParse(t, "server: {publicUrl: \"https://b.example.com/\"}\n", nil)
	c.SetListen(":9090")
	if c.Server.PublicURL != "https://b.example.com" || c.PublicURLFollowsListen() {
		t.Errorf("a publicUrl the file set moved with --listen: %q", c.Server.PublicURL)
	}
	// The shipped file's ${BROKER_PUBLIC_URL:-} expands to nothing: unset.
	c = mustParse(t, "server: {listen: \":7000\", publicUrl: \"${BROKER_PUBLIC_URL:-}\"}\n", nil)
	if c.Server.PublicURL != "http://localhost:7000" {
		t.Errorf("an empty reference did not leave publicUrl unset: %q", c.Server.PublicURL)
	}
	c = mustParse(t, "server: {listen: \"127.0.0.1:0\"}\n", nil)
	assertErrors(t, c.Validate(), "server.publicUrl: required when server.listen has port 0: the port is only known once the broker listens")
}

func TestAllowInsecureLoopbackReachesProviders(t *testing.T) {
	c := mustParse(t, `
server: {allowInsecureLoopback: true}
providers:
  local: {kind: apikey, apiBaseUrl: "http://127.0.0.1:9000/api"}
`, nil)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	reg, err := c.ProviderRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := reg.Get("local"); !ok || !p.IsEnabled() {
		t.Error("the loopback provider is not enabled")
	}
}

func TestUnits(t *testing.T) {
	sizes := []struct {
		in   string
		want ByteSize
	}{
		{"65536", 65536}, {"64KiB", 64 << 10}, {"100MiB", 100 << 20}, {"1GiB", 1 << 30}, {"0", 0}, {"512B", 512}, {"2 MiB", 2 << 20},
	}
	for _, tc := range sizes {
		got, err := ParseByteSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "10MB", "KiB", "99999999999TiB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
	rates := []struct {
		in   string
		want float64
	}{
		{"10/s", 10}, {"600/m", 10}, {"3600/h", 1}, {"5/10s", 0.5}, {"0", 0}, {"0/s", 0}, {"10", 10}, {" 7 / s ", 7},
	}
	for _, tc := range rates {
		got, err := ParseRate(tc.in)
		if err != nil || got.PerSecond() != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v/s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"-1", "-1/s", "x/s", "10/0s", "10/fortnight", "", "2.5", "1.5/s", "/s"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
	if s := (Rate{Per: time.Minute, Events: 600}).String(); s != "600/m" {
		t.Errorf("Rate.String = %q", s)
	}
	if s := ByteSize(100 << 20).String(); s != "100MiB" {
		t.Errorf("ByteSize.String = %q", s)
	}
}

// Every rate key reads the same syntax: the bare number that
// rateLimits.app used to take and the N/s that browser took mean the same.
func TestEveryRateKeyHasOneSyntax(t *testing.T) {
	keys := map[string]func(*Config) Rate{
		"app":      func(c *Config) Rate { return c.Security.RateLimits.App },
		"browser":  func(c *Config) Rate { return c.Security.RateLimits.Browser },
		"sessions": func(c *Config) Rate { return c.Security.RateLimits.Sessions },
	}
	for key, get := range keys {
		for in, want := range map[string]float64{"10": 10, "10/s": 10, "600/m": 10, "0": 0, "1/m": 1.0 / 60} {
			c := mustParse(t, "security: {rateLimits: {"+key+": \""+in+"\"}}\n", nil)
			if got := get(c).PerSecond(); got != want {
				t.Errorf("%s: %q = %v/s, want %v/s", key, in, got, want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("%s: %q: %v", key, in, err)
			}
		}
		_, err := Parse([]byte("security: {rateLimits: {"+key+": 2.5}}\n"), nil)
		assertErrors(t, err, "security.rateLimits."+key+": invalid rate \"2.5\": N must be a whole number; write a slower rate per minute or hour, such as 30/m")
	}
}

// The examples in docs/providers.md must stay valid configs.
func TestProviderDocExamplesValidate(t *testing.T) {
	doc, err := os.ReadFile("../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) < 3 {
		t.Fatalf("found %d yaml examples", len(blocks))
	}
	for i, b := range blocks {
		yml, _, _ := strings.Cut(b, "```")
		c, err := Parse([]byte(yml), env(map[string]string{"BOOKING_CLIENT_ID": "id", "BOOKING_CLIENT_SECRET": "s"}))
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("example %d:\n%s\n%v", i, yml, err)
		}
	}
}
