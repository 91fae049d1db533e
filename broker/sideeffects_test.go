package broker_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/config"
)

// The test binary owns its process, so it picks Gin's mode, as cmd/broker's
// main does: test mode (no debug route listing).
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// broker.New changes nothing process-wide and writes to nothing it was not
// given: Gin's mode stays the embedding process's, and with no Logger
// nothing reaches stdout or stderr, development keys generated on the way
// included.
func TestNewHasNoGlobalSideEffects(t *testing.T) {
	const mode = gin.TestMode
	gin.SetMode(mode)
	stdout, stderr := capture(t, &os.Stdout), capture(t, &os.Stderr)

	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	if err := broker.PrepareSecrets(cfg, nil); err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/no-such-path", "/v1/apps/app_x"} {
		b.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gin.Mode(); got != mode {
		t.Errorf("gin mode %q after broker.New, want %q", got, mode)
	}
	if out := stdout(); out != "" {
		t.Errorf("written to stdout: %q", out)
	}
	if out := stderr(); out != "" {
		t.Errorf("written to stderr: %q", out)
	}
}

// A generated development admin token is handed back to the caller (the
// CLI shows it once on its stderr), never written by package broker nor
// logged; a second start has nothing new to show.
func TestDevelopmentAdminTokenIsReturnedNotWritten(t *testing.T) {
	stderr := capture(t, &os.Stderr)
	var logs bytes.Buffer
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	dev, err := broker.FillDevSecrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	broker.WarnDevSecrets(slog.New(slog.NewTextHandler(&logs, nil)), dev)
	if dev.NewAdminToken == "" || dev.NewAdminToken != cfg.Security.AdminToken {
		t.Fatalf("NewAdminToken %q, the config's %q", dev.NewAdminToken, cfg.Security.AdminToken)
	}
	if bytes.Contains(logs.Bytes(), []byte(dev.NewAdminToken)) {
		t.Fatal("the admin token is in a log line")
	}
	again := config.Default()
	again.Server.DataDir = cfg.Server.DataDir
	if dev, err = broker.FillDevSecrets(again); err != nil || dev.NewAdminToken != "" {
		t.Fatalf("second start: %q, %v", dev.NewAdminToken, err)
	}
	if out := stderr(); out != "" {
		t.Errorf("written to stderr: %q", out)
	}
}

// capture swaps *f for a pipe until the test ends; the returned func stops
// the capture and returns what was written.
func capture(t *testing.T, f **os.File) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := *f
	*f = w
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(r); got <- string(b) }()
	done := false
	stop := func() string {
		if done {
			return ""
		}
		done = true
		*f = orig
		w.Close()
		return <-got
	}
	t.Cleanup(func() { stop() })
	return stop
}
