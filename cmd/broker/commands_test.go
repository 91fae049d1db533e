package main

import (
	"context"
	"database/sql"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver, to tamper with the schema

	"github.com/oauthbroker/broker/broker/store/pgtest"
)

func TestCheckConfigListsEveryProblemWithItsPath(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
server:
  listn: 127.0.0.1:8080
  production: true
store: {driver: mysql}
log: {level: loud}
providers:
  google: {enabled: true}
`, 0)
	_, stderr, err := runBroker(t, dir, nil, "check-config", "-c", cfg)
	if err == nil {
		t.Fatal("check-config accepted a broken config")
	}
	// The unknown key is reported first (decoding), with its path.
	if !strings.Contains(stderr, "server.listn") {
		t.Fatalf("unknown key not named:\n%s", stderr)
	}

	cfg = writeConfig(t, dir, `
server: {production: true, publicUrl: "https://broker.example.com"}
store: {driver: mysql}
log: {level: loud}
providers:
  google: {enabled: true}
`, 0)
	_, stderr, err = runBroker(t, dir, nil, "check-config", "-c", cfg)
	if err == nil {
		t.Fatal("check-config accepted a broken config")
	}
	for _, want := range []string{"store.driver", "log.level", "providers.google.clientId: required when the provider is enabled", "security.adminToken"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("missing %q in:\n%s", want, stderr)
		}
	}

	shipped, _ := filepath.Abs("../../broker.yaml")
	out, stderr, err := runBroker(t, dir, nil, "check-config", "-c", shipped)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("shipped broker.yaml: %v %s %s", err, out, stderr)
	}
}

// TestMigrateThenRefuseNewerSchema: `broker migrate` applies the schema
// ahead of a rollout, and a replica refuses a schema newer than it knows.
func TestMigrateThenRefuseNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	yaml := `
server: {listen: "127.0.0.1:{{PORT}}"}
store: {driver: postgres, dsn: "` + dsn + `"}
`
	port := freePort(t)
	cfg := writeConfig(t, dir, yaml, port)
	out, stderr, err := runBroker(t, dir, nil, "migrate", "-c", cfg)
	if err != nil || !strings.Contains(out, "schema version") {
		t.Fatalf("migrate: %v\n%s%s", err, out, stderr)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runBroker(t, dir, nil, "serve", "-c", cfg)
	if err == nil {
		t.Fatal("served against a schema newer than it knows")
	}
	if !strings.Contains(stderr, "newer than this broker knows") {
		t.Fatalf("refusal is not clear:\n%s", stderr)
	}
}

// TestStaticBuild: CGO_ENABLED=0 gives a binary with no dynamic loader, so
// it runs on distroless/static or scratch.
func TestStaticBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "broker")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("binary is dynamically linked (program header %v)", p.Type)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "broker ") {
		t.Fatalf("version: %v %q", err, out)
	}
}
