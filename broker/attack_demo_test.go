package broker_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/config"
)

// The demo provider (an OAuth server that grants anyone) is refused in
// production by broker.New itself, so an app embedding the broker cannot
// mount it by skipping the command line's checks.
func TestNewRefusesDemoInProduction(t *testing.T) {
	cfg := testConfig(t, func(c *config.Config) {
		c.Server.Production = true
		c.Server.PublicURL = "https://broker.example.com"
		c.Security.AdminToken = strings.Repeat("a", 40)
		c.Security.StateKeys = []config.Key{{ID: "s1", Secret: strings.Repeat("s", 40)}}
		c.Security.EncryptionKeys = []config.Key{{ID: "e1", Key: base64.StdEncoding.EncodeToString(make([]byte, 32))}}
		c.Demo = true
	})
	b, err := broker.New(context.Background(), cfg, broker.Options{Logger: quietLogger()})
	if err == nil {
		b.Close()
		t.Fatal("broker.New accepted demo: true in production")
	}
	if !strings.Contains(err.Error(), "demo: refused in production") {
		t.Fatalf("error %q does not say why", err)
	}
}
