package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// brokerBin is the real binary, built once by TestMain: the end-to-end tests
// run it as an operator would.
var brokerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "broker-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	brokerBin = filepath.Join(dir, "broker")
	cmd := exec.Command("go", "build", "-race", "-o", brokerBin, ".")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build broker:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's stderr while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running `broker serve`.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string
	Stderr *syncBuffer
	Stdout *syncBuffer
	done   chan error
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeConfig writes a broker.yaml into dir; {{PORT}} is replaced by port.
func writeConfig(t *testing.T, dir, yaml string, port int) string {
	t.Helper()
	path := filepath.Join(dir, "broker.yaml")
	yaml = strings.ReplaceAll(yaml, "{{PORT}}", fmt.Sprint(port))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runBroker runs the binary with args in dir and a minimal environment (no
// inherited BROKER_* variables), and waits for it.
func runBroker(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(brokerBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// startBroker starts `broker serve -c cfg` in dir and waits for /healthz.
func startBroker(t *testing.T, dir, cfg string, port int, env ...string) *proc {
	t.Helper()
	return startWith(t, dir, port, env, "serve", "-c", cfg)
}

// startWith starts the binary with args in dir and waits for /healthz on
// port. Stdout and stderr both go to Stderr; Stdout has stdout alone.
func startWith(t *testing.T, dir string, port int, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(brokerBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	p := &proc{t: t, cmd: cmd, URL: fmt.Sprintf("http://127.0.0.1:%d", port), Stderr: &syncBuffer{}, Stdout: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(p.Stderr, p.Stdout), p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("broker exited before serving: %v\n%s", err, p.Stderr)
		default:
		}
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("broker did not become healthy:\n%s", p.Stderr)
	return nil
}

// Signal sends sig and returns a channel that yields the exit error.
func (p *proc) Signal(sig syscall.Signal) <-chan error {
	_ = p.cmd.Process.Signal(sig)
	return p.done
}

// Kill stops the process at once (SIGKILL) if it still runs.
func (p *proc) Kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(10 * time.Second):
		}
	}
}

// callKey is call authenticated as an app by its secret (X-Api-Key).
func callKey(t *testing.T, method, url, secret string, body any, out any) *http.Response {
	t.Helper()
	return call(t, method, url, "key:"+secret, body, out)
}

// call makes one JSON request; auth is a full Authorization header value,
// "key:<secret>" for X-Api-Key, or "" for none. It decodes the JSON answer into out when out is non-nil.
func call(t *testing.T, method, url, auth string, body any, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key, ok := strings.CutPrefix(auth, "key:"); ok {
		req.Header.Set("X-Api-Key", key)
	} else if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o700) }
