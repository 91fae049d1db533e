package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/config"
)

// flat joins shell continuation lines and collapses blanks, so a command
// wrapped differently still compares equal.
func flat(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\\\n", " ")), " ")
}

// The README's demo walk-through asks for the connect page exactly as
// serve --demo tells the user to on the defaults (route, schedule, the demo
// app's redirect URL), and the screenshots it shows exist.
func TestREADMEDemoMatchesServe(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	cfg.Refresh.KeepAlive.Enabled = false
	cfg.Demo = true
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := broker.PrepareSecrets(cfg, quiet); err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, err := b.EnsureDemoApp(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	printDemo(&printed, cfg, d)
	curl := regexp.MustCompile(`curl (?:[^\n]*\\\n)*[^\n]*`).FindString(printed.String())
	if curl == "" {
		t.Fatalf("serve --demo prints no curl command:\n%s", printed.String())
	}
	if !strings.Contains(flat(string(readme)), flat(curl)) {
		t.Errorf("README.md lacks the connect page request serve --demo prints:\n%s", curl)
	}
	imgs := regexp.MustCompile(`src="(docs/img/[^"]+\.png)"`).FindAllStringSubmatch(string(readme), -1)
	if len(imgs) < 2 {
		t.Errorf("README.md shows %d screenshots, want two", len(imgs))
	}
	for _, m := range imgs {
		if _, err := os.Stat("../../" + m[1]); err != nil {
			t.Errorf("README.md shows %s: %v", m[1], err)
		}
	}
}
