package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/oauthbroker/broker/config"
)

const devKeysWarning = "DEVELOPMENT KEYS IN USE"

// A fresh directory with no broker.yaml: serve runs on the defaults, takes
// --listen, the public URL follows it, and the start says where it listens,
// the store and the providers. The dev-keys warning comes once from serve;
// an apps command says nothing about keys it did not generate.
func TestServeWithNoConfigFileAndListenFlag(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	p := startWith(t, dir, port, []string{"BROKER_PUBLIC_URL=https://unread.example.com"}, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	out := p.Stdout.String()
	if strings.Contains(out, "unread.example.com") {
		t.Errorf("a variable's value was printed:\n%s", out)
	}
	for _, want := range []string{
		"(not read without a config file: BROKER_PUBLIC_URL)",
		fmt.Sprintf("listening on  127.0.0.1:%d", port),
		fmt.Sprintf("public URL    http://localhost:%d   (follows server.listen", port),
		"config        none (no broker.yaml: every key at its default)",
		"store         sqlite " + filepath.Join("data", "broker.db"),
		"providers     none yet",
		"to apps with their own OAuth client only: calcom, google, microsoft, zoom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("serve's start misses %q:\n%s", want, out)
		}
	}
	if n := strings.Count(p.Stderr.String(), devKeysWarning); n != 1 {
		t.Errorf("serve printed the dev-keys warning %d times:\n%s", n, p.Stderr)
	}
	if err := <-p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.Stderr)
	}
	for _, args := range [][]string{{"apps", "list"}, {"apps", "create", "--name", "Quiet"}, {"migrate"}} {
		stdout, stderr, err := runBroker(t, dir, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, stdout, stderr)
		}
		if strings.Contains(stderr, devKeysWarning) {
			t.Errorf("%v warned about keys it did not generate:\n%s", args, stderr)
		}
	}
	// Where an apps command generates the keys, it says so, once.
	fresh := t.TempDir()
	_, stderr, err := runBroker(t, fresh, nil, "apps", "list")
	if err != nil || strings.Count(stderr, devKeysWarning) != 1 || !strings.Contains(stderr, "Development admin token") {
		t.Fatalf("apps list generating keys: %v\n%s", err, stderr)
	}
	// A file named with -c must exist: only the implicit ./broker.yaml may be absent.
	_, stderr, err = runBroker(t, dir, nil, "check-config", "-c", "missing.yaml")
	if err == nil || !strings.Contains(stderr, "missing.yaml") {
		t.Fatalf("a missing -c file was accepted: %v %s", err, stderr)
	}
	if stdout, _, err := runBroker(t, dir, nil, "check-config"); err != nil || !strings.Contains(stdout, "the defaults (no broker.yaml): ok") {
		t.Fatalf("check-config with no file: %v %s", err, stdout)
	}
}

// check-config lists every problem in one pass, each with its key path:
// unknown keys, values of the wrong type, values that make no sense,
// provider problems and a secret file that is not there, whose variable and
// file are named. Errors carry one "broker:" prefix.
func TestCheckConfigReportsEverythingInOnePass(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "secrets", "admin_token")
	cfg := writeConfig(t, dir, `
server:
  listn: 127.0.0.1:8080
  production: true
  publicUrl: "http://broker.example.com"
store: {driver: mysql, maxConns: many}
log: {level: loud}
security:
  adminToken: "${BROKER_ADMIN_TOKEN}"
  rateLimits: {app: 10/s, browser: 10, sessions: fast}
providers:
  google: {enabled: true}
`, 0)
	_, stderr, err := runBroker(t, dir, []string{"BROKER_ADMIN_TOKEN_FILE=" + missing}, "check-config", "-c", cfg)
	if err == nil {
		t.Fatal("check-config accepted a broken config")
	}
	want := []string{
		"log.level: must be debug, info, warn or error",
		"providers.google.clientId: required when the provider is enabled",
		`security.adminToken: BROKER_ADMIN_TOKEN_FILE names "` + missing + `", which cannot be read: no such file or directory`,
		"security.encryptionKeys[0].key: required in production (development keys are refused)",
		`security.rateLimits.sessions: invalid rate "fast"`,
		"server.listn: unknown key",
		"server.publicUrl: must be https in production",
		"store.driver: must be sqlite or postgres",
		`store.maxConns: must be a whole number, not "many"`,
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("missing %q in:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "rateLimits.app") || strings.Contains(stderr, "rateLimits.browser") {
		t.Errorf("10/s and 10 are both rates:\n%s", stderr)
	}
	if !strings.Contains(stderr, "broker: "+cfg+": ") || strings.Contains(stderr, "broker: broker:") {
		t.Errorf("the closing line is not one prefixed summary:\n%s", stderr)
	}
	// serve refuses the same config with the same list.
	_, serveErr, err := runBroker(t, dir, []string{"BROKER_ADMIN_TOKEN_FILE=" + missing}, "serve", "-c", cfg)
	if err == nil || !strings.Contains(serveErr, want[2]) || !strings.Contains(serveErr, "server.listn: unknown key") {
		t.Fatalf("serve did not refuse it the same way: %v\n%s", err, serveErr)
	}

	// An error from package broker is not prefixed twice.
	damaged := t.TempDir()
	if err := mkdir(filepath.Join(damaged, "data")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(damaged, "data", "dev-secrets.json"), []byte("{}"), 0o600)
	for _, args := range [][]string{{"apps", "list"}, {"serve"}} {
		_, stderr, err = runBroker(t, damaged, nil, args...)
		if err == nil || !strings.HasPrefix(stderr, "broker: data/dev-secrets.json is damaged") || strings.Contains(stderr, "broker: broker:") {
			t.Fatalf("%v: %v\n%s", args, err, stderr)
		}
	}
}

// A publicUrl set in the file stays when --listen moves the port.
func TestListenFlagKeepsAPublicURLTheFileSets(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := writeConfig(t, dir, "server: {publicUrl: \"http://broker.test:8080\"}\n", 0)
	p := startWith(t, dir, port, nil, "serve", "-c", cfg, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	if out := p.Stdout.String(); !strings.Contains(out, "public URL    http://broker.test:8080\n") || !strings.Contains(out, "config        "+cfg) {
		t.Fatalf("start:\n%s", out)
	}
}

// The version comes from -X values when given, else from the build info.
func TestVersionPrintsVersionCommitAndDate(t *testing.T) {
	out, _, err := runBroker(t, t.TempDir(), nil, "version")
	if err != nil || !strings.HasPrefix(out, "broker ") || !strings.Contains(out, "\ncommit: ") || !strings.Contains(out, "\ndate:   ") {
		t.Fatalf("version: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "broker")
	build := exec.Command("go", "build", "-race", "-o", bin,
		"-ldflags", "-X main.Version=v9.8.7 -X main.Commit=0123456789abcdef -X main.BuildDate=2026-01-02T03:04:05Z", ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	b, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.HasPrefix(got, "broker v9.8.7\ncommit: 0123456789abcdef\ndate:   2026-01-02T03:04:05Z\ngo:     go") {
		t.Fatalf("version with -X:\n%s", got)
	}
}

func TestBuildInfoFillsWhatLdflagsLeaveEmpty(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "15b3c47aaaaabbbbbcccccdddddeeeeefffff000"},
		{Key: "vcs.time", Value: "2026-12-03T06:30:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	b := fromBuildInfo(info, buildInfo{Go: "go1.x"})
	var sb strings.Builder
	b.write(&sb)
	for _, want := range []string{"broker v1.4.0\n", "commit: 15b3c47aaaaabbbbbcccccdddddeeeeefffff000 (modified)\n", "date:   2026-12-03T06:30:00Z (commit time)\n"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("missing %q in:\n%s", want, sb.String())
		}
	}
	if s := b.short(); s != "v1.4.0 (15b3c47aaaaa, modified)" {
		t.Errorf("short = %q", s)
	}
	// -X wins; "(devel)" is no version.
	b = fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, buildInfo{Commit: "abc"})
	if b.Version != "dev" || b.Commit != "abc" {
		t.Errorf("got %+v", b)
	}
}

// serve names the store without the DSN's password.
func TestDescribeStoreHidesThePassword(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Driver = config.DriverPostgres
	for _, dsn := range []string{
		"postgres://broker:s3cr3t-pw@db.internal:6543/brokerdb?sslmode=require",
		"host=db.internal port=6543 dbname=brokerdb user=broker password=s3cr3t-pw",
	} {
		cfg.Store.DSN = dsn
		got := describeStore(cfg)
		if got != "postgres db.internal:6543/brokerdb as broker" || strings.Contains(got, "s3cr3t") {
			t.Errorf("%s: %q", dsn, got)
		}
	}
	cfg.Store.DSN = "postgres://u:s3cr3t@%zz"
	if got := describeStore(cfg); strings.Contains(got, "s3cr3t") {
		t.Errorf("unparseable DSN shown: %q", got)
	}
	os.Unsetenv("PGPASSWORD")
}
