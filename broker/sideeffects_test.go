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
// given: Gin's mode stays the embedding process's, and with no Logger and no
// notice writer nothing reaches stdout or stderr, the first start's
// development admin token included.
func TestNewHasNoGlobalSideEffects(t *testing.T) {
	const mode = gin.TestMode
	gin.SetMode(mode)
	stdout, stderr := capture(t, &os.Stdout), capture(t, &os.Stderr)

	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	if err := broker.PrepareSecrets(cfg, nil, nil); err != nil {
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

// PrepareSecrets shows a generated development admin token once, on the
// writer it is given (the CLI's stderr), never in a log line.
func TestDevelopmentAdminTokenGoesToTheNoticeWriter(t *testing.T) {
	var notice, logs bytes.Buffer
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	if err := broker.PrepareSecrets(cfg, slog.New(slog.NewTextHandler(&logs, nil)), &notice); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(notice.Bytes(), []byte(cfg.Security.AdminToken)) {
		t.Fatalf("notice %q lacks the generated admin token", notice.String())
	}
	if bytes.Contains(logs.Bytes(), []byte(cfg.Security.AdminToken)) {
		t.Fatal("the admin token is in a log line")
	}
	notice.Reset()
	again := config.Default()
	again.Server.DataDir = cfg.Server.DataDir
	if err := broker.PrepareSecrets(again, nil, &notice); err != nil {
		t.Fatal(err)
	}
	if notice.Len() != 0 {
		t.Fatalf("shown again on the second start: %q", notice.String())
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
