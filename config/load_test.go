package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env is a lookup over a fixed map, so tests never read the real environment.
func env(m map[string]string) Lookup { return MapLookup(m) }

func mustParse(t *testing.T, yml string, lookup Lookup) *Config {
	t.Helper()
	c, err := Parse([]byte(yml), lookup)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestShippedConfigLoadsAndValidatesWithoutEnvironment(t *testing.T) {
	data, err := os.ReadFile("../broker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, string(data), nil)
	if err := c.Validate(); err != nil {
		t.Fatalf("the shipped broker.yaml does not validate:\n%v", err)
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.Store.Driver != "sqlite" || c.SQLitePath() != filepath.Join("data", "broker.db") {
		t.Errorf("listen=%q driver=%q sqlite=%q", c.Server.Listen, c.Store.Driver, c.SQLitePath())
	}
	if c.Security.EncryptionKeys[0].Key != "" || c.Security.AdminToken != "" {
		t.Error("with no environment the secrets must be empty (development keys)")
	}
	reg, err := c.ProviderRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range reg.All() {
		if p.HasBrokerClient() {
			t.Errorf("provider %s has a broker-wide client with no environment", p.ID)
		}
	}
	m, _ := reg.Get("microsoft")
	if !strings.Contains(m.AuthURL, "/common/") {
		t.Errorf("microsoft tenant default not applied: %s", m.AuthURL)
	}
}

func TestShippedConfigTakesCredentialsFromEnvironment(t *testing.T) {
	data, _ := os.ReadFile("../broker.yaml")
	c := mustParse(t, string(data), env(map[string]string{
		"GOOGLE_CLIENT_ID": "gid", "GOOGLE_CLIENT_SECRET": "gsecret", "MICROSOFT_TENANT": "contoso.com",
	}))
	reg, err := c.ProviderRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := reg.Get("google"); !g.IsEnabled() || g.ClientID != "gid" {
		t.Errorf("google not enabled from the environment: %+v", g.Spec)
	}
	if m, _ := reg.Get("microsoft"); !strings.Contains(m.TokenURL, "/contoso.com/") {
		t.Errorf("tenant from the environment not applied: %s", m.TokenURL)
	}
}

func TestEmptyFileIsEveryDefault(t *testing.T) {
	for _, yml := range []string{"", "# only a comment\n", "---\n", "null\n"} {
		c := mustParse(t, yml, nil)
		want := finish(Default())
		if !reflect.DeepEqual(c, want) {
			t.Errorf("%q: got %+v, want the defaults", yml, c)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("the defaults do not validate: %v", err)
		}
	}
}

func TestDefaultsApplyToWhatIsMissing(t *testing.T) {
	c := mustParse(t, "server:\n  listen: 0.0.0.0:9000\ncache:\nproxy: {timeout: 45s}\n", nil)
	if c.Server.Listen != "0.0.0.0:9000" || c.Server.PublicURL != "http://localhost:9000" || c.Server.ShutdownGrace.D() != 20*time.Second {
		t.Errorf("server: %+v", c.Server)
	}
	if c.Cache.Tokens != DefaultCacheTokens || c.Proxy.Timeout.D() != 45*time.Second || c.Proxy.MaxRequestBody != 100<<20 {
		t.Errorf("cache %+v proxy %+v", c.Cache, c.Proxy)
	}
	if !c.Refresh.KeepAlive.Enabled || !c.Telemetry.Prometheus || c.Security.RateLimits.Browser.String() != "10/s" {
		t.Error("boolean and rate defaults lost")
	}
	if c.Store.DSN != filepath.Join("data", "broker.db") {
		t.Errorf("sqlite dsn = %q", c.Store.DSN)
	}
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	c := mustParse(t, `
refresh: {keepAlive: {enabled: false}}
telemetry: {prometheus: false}
security:
  encryptionKeys: [{id: e2, key: ""}, {id: e1, key: ""}]
server: {publicUrl: "https://broker.example.com/"}
`, nil)
	if c.Refresh.KeepAlive.Enabled || c.Telemetry.Prometheus {
		t.Error("false did not override a true default")
	}
	if len(c.Security.EncryptionKeys) != 2 || c.Security.EncryptionKeys[0].ID != "e2" {
		t.Errorf("key list = %+v, want exactly the file's", c.Security.EncryptionKeys)
	}
	if c.Server.PublicURL != "https://broker.example.com" {
		t.Errorf("publicUrl = %q, want the trailing slash trimmed", c.Server.PublicURL)
	}
}

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{"SET": "value", "EMPTY": "", "DOLLAR": "a${SET}b"})
	tests := []struct{ in, want, err string }{
		{"${SET}", "value", ""},
		{"x-${SET}-y", "x-value-y", ""},
		{"${UNSET:-fallback}", "fallback", ""},
		{"${UNSET:-}", "", ""},
		{"${UNSET}", "", ""},
		{"${EMPTY:-fallback}", "fallback", ""},
		{"${SET:-fallback}", "value", ""},
		{"${DOLLAR}", "a${SET}b", ""}, // a value is never expanded again
		{"$${SET}", "${SET}", ""},
		{"pa$$word$x", "pa$$word$x", ""},
		{"${UNSET:-a:-b}", "a:-b", ""},
		{"${SET", "", "unterminated ${ (write $${ for a literal ${)"},
		{"${1BAD}", "", "invalid variable reference ${1BAD}: use ${NAME} or ${NAME:-default}"},
		{"${}", "", "invalid variable reference ${}: use ${NAME} or ${NAME:-default}"},
		{"${A-b}", "", "invalid variable reference ${A-b}: use ${NAME} or ${NAME:-default}"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Expand(tc.in, lookup)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestExpansionInsideTheDocument(t *testing.T) {
	lookup := env(map[string]string{
		"CONNS":  "7",
		"SECRET": "has: colon\nand newline # and hash",
		"LEVEL":  "debug",
		"TILDE":  "~",
	})
	c := mustParse(t, `
store: {maxConns: "${CONNS:-20}"}
security:
  adminToken: ${SECRET}
  adminReadToken: "${UNSET:-}"
  stateKeys: [{id: s1, secret: "${TILDE}"}]
  rateLimits:
    burst: ${BURST:-5}
log: {level: "${LEVEL}", format: "${UNSET_FORMAT}"}
server: {listen: "${LISTEN:-127.0.0.1:9999}", production: "${PROD:-false}"}
`, lookup)
	if c.Security.RateLimits.Burst != 5 || c.Server.Production {
		t.Errorf("burst=%d production=%v", c.Security.RateLimits.Burst, c.Server.Production)
	}
	if c.Store.MaxConns != 7 {
		t.Errorf("maxConns = %d, want 7 from the environment", c.Store.MaxConns)
	}
	if c.Security.AdminToken != "has: colon\nand newline # and hash" {
		t.Errorf("a value with YAML syntax changed: %q", c.Security.AdminToken)
	}
	if c.Security.StateKeys[0].Secret != "~" {
		t.Errorf("a value that reads as null was lost: %q", c.Security.StateKeys[0].Secret)
	}
	if c.Log.Level != "debug" || c.Log.Format != DefaultLogFormat {
		t.Errorf("log = %+v (a reference to nothing leaves the default)", c.Log)
	}
	if c.Server.Listen != "127.0.0.1:9999" {
		t.Errorf("listen = %q", c.Server.Listen)
	}
	_, err := Parse([]byte("security:\n  stateKeys: [{id: s1, secret: \"${BROKEN\"}]\n"), lookup)
	assertErrors(t, err, "security.stateKeys[0].secret: unterminated ${ (write $${ for a literal ${)")
}

func TestLoadReadsTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broker.yaml")
	os.WriteFile(path, []byte("server:\n  dataDir: ${BROKER_TEST_DATA_DIR}\n"), 0o600)
	t.Setenv("BROKER_TEST_DATA_DIR", dir)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.SQLitePath() != filepath.Join(dir, "broker.db") {
		t.Errorf("sqlite path = %q", c.SQLitePath())
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// assertErrors checks err is ValidationErrors with exactly these lines.
func assertErrors(t *testing.T, err error, want ...string) {
	t.Helper()
	var v ValidationErrors
	if !errors.As(err, &v) {
		t.Fatalf("err = %v, want ValidationErrors", err)
	}
	if got := v.Error(); got != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestStrictDecoding(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"unknown key", "server:\n  listn: 127.0.0.1:8080\n", []string{"server.listn: unknown key"}},
		{"unknown section", "sever: {}\n", []string{"sever: unknown key"}},
		{"every unknown key at once", "server: {listn: x, publicURL: y}\nproviders:\n  google: {clientID: z}\n", []string{
			"providers.google.clientID: unknown key",
			"server.listn: unknown key",
			"server.publicURL: unknown key",
		}},
		{"unknown key in a list item", "security:\n  stateKeys: [{id: s1, secrt: x}]\n", []string{"security.stateKeys[0].secrt: unknown key"}},
		{"unknown inject key", "providers:\n  x: {inject: {type: header, header: X-Key}}\n", []string{"providers.x.inject.header: unknown key"}},
		{"wrong scalar type", "store: {maxConns: many}\nserver: {production: maybe}\n", []string{
			"server.production: must be true or false, not \"maybe\"",
			"store.maxConns: must be a whole number, not \"many\"",
		}},
		{"bad duration", "server: {shutdownGrace: 20}\n", []string{
			"server.shutdownGrace: invalid duration \"20\": use a number with a unit, such as 20s, 5m or 1h",
		}},
		{"bad size", "proxy: {maxRequestBody: 100MB}\n", []string{
			"proxy.maxRequestBody: invalid size \"100MB\": use a number of bytes or a whole number with KiB, MiB or GiB, such as 64KiB",
		}},
		{"bad rate", "security: {rateLimits: {browser: 10/fortnight, app: -1}}\n", []string{
			"security.rateLimits.app: invalid rate \"-1\": use N/s, N/m or N/h (such as 10/s or 600/m), a whole number N for N/s, or 0 for no limit",
			"security.rateLimits.browser: invalid rate \"10/fortnight\": use N/s, N/m or N/h (such as 10/s or 600/m), a whole number N for N/s, or 0 for no limit",
		}},
		{"list for a scalar", "server: {listen: [a, b]}\n", []string{"server.listen: must be a single value, not a list"}},
		{"scalar for a section", "server: yes\n", []string{"server: must be a mapping of keys to values, not a value"}},
		{"scalar for a list", "providers: {google: {scopes: openid email}}\n", []string{"providers.google.scopes: must be a list, not a value"}},
		{"mapping for a duration", "cache: {expiryMargin: {s: 1}}\n", []string{"cache.expiryMargin: must be a duration such as 20s, not a mapping"}},
		{"duplicate key", "server:\n  listen: a\n  listen: b\n", []string{"server.listen: duplicate key (first on line 2)"}},
		{"merge key", "base: &b {listen: x}\n", []string{"base: unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml), nil)
			assertErrors(t, err, tc.want...)
		})
	}
}

func TestParseRefusesWhatIsNotOneMapping(t *testing.T) {
	tests := []struct{ name, yml, want string }{
		{"two documents", "server: {}\n---\nstore: {}\n", "config: more than one YAML document; broker.yaml holds one"},
		{"a list", "- a\n- b\n", "config: the top level must be a mapping of sections (server:, store:, ...)"},
		{"syntax", "server: {listen: [\n", "config: yaml: line 1: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml), nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Parse(make([]byte, MaxConfigSize+1), nil); err == nil {
		t.Error("an oversized file was parsed")
	}
}

func TestAliasBombIsRefused(t *testing.T) {
	yml := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		yml += n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	yml = "providers:\n  x:\n    scopes: [*h]\n" + strings.ReplaceAll(yml, "\n", "\n")
	if _, err := Parse([]byte(yml), nil); err == nil {
		t.Fatal("an alias bomb was accepted")
	}
}

// Check reports every problem in one pass: a refused key (unknown, wrong
// type) no longer hides the problems Validate finds in the rest of the file,
// and a refused value is not reported a second time through its default.
func TestCheckFindsEverythingInOnePass(t *testing.T) {
	cfg, err := Parse([]byte(`
server:
  listn: 127.0.0.1:8080
  production: true
  publicUrl: "https://broker.example.com"
store: {driver: mysql, maxConns: many}
log: {level: loud}
security:
  adminToken: "`+strings.Repeat("t", 32)+`"
  stateKeys: [{id: s1, secret: "`+strings.Repeat("s", 32)+`"}]
  encryptionKeys: [{id: e1, key: "`+base64Key()+`"}]
  rateLimits: {app: fast}
providers:
  google: {enabled: true}
`), nil)
	if cfg == nil {
		t.Fatalf("Parse returned no config with field errors: %v", err)
	}
	if cfg.Store.MaxConns != DefaultMaxConns {
		t.Errorf("a refused value did not keep its default: maxConns=%d", cfg.Store.MaxConns)
	}
	assertErrors(t, Check(cfg, err),
		"log.level: must be debug, info, warn or error",
		"providers.google.clientId: required when the provider is enabled",
		"providers.google.clientSecret: required when the provider is enabled",
		`security.rateLimits.app: invalid rate "fast": use N/s, N/m or N/h (such as 10/s or 600/m), a whole number N for N/s, or 0 for no limit`,
		"server.listn: unknown key",
		"store.driver: must be sqlite or postgres",
		`store.maxConns: must be a whole number, not "many"`,
	)
	if _, err := Parse([]byte("server: {listen: [\n"), nil); Check(nil, err) != err {
		t.Error("a syntax error must come back as it is")
	}
}

func base64Key() string { return "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=" }
