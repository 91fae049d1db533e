package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/oauthbroker/broker/broker/api"
	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/demo"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// demoAppFile in the data directory remembers the demo app's id, so a
// restart reuses the app (and its connections) instead of adding one.
const demoAppFile = "demo-app"

// withDemo starts the built-in demo provider (docs/demo.md): it joins the
// registry as provider "demo", and the broker's provider calls and proxied
// calls to it are served in-process.
func (b *Broker) withDemo(cfg *config.Config, now func() time.Time, reg *providers.Registry, hc *http.Client, base http.RoundTripper) (*providers.Registry, *http.Client, http.RoundTripper) {
	pub := strings.TrimRight(cfg.Server.PublicURL, "/")
	b.demo = demo.New(demo.Options{BaseURL: pub + demo.Path, CallbackURL: pub + "/oauth/callback", Now: now})
	reg = providers.NewRegistry(append(reg.All(), b.demo.Provider())...)
	wrapped := *hc
	wrapped.Transport = b.demo.Transport(hc.Transport)
	return reg, &wrapped, b.demo.Transport(base)
}

// mountDemo serves /demo/ when the demo is on, limited per client address
// like the other browser pages.
func (b *Broker) mountDemo(g gin.IRouter) {
	if b.demo == nil {
		return
	}
	limit := api.BrowserRateLimit(b.cfg.Security.RateLimits.Browser)
	h := gin.WrapH(b.demo.Handler())
	g.Any(demo.Path+"/*path", limit, h)
}

// DemoApp is the app `serve --demo` prints: its client id and a client
// secret that is valid from now on (a restart rotates it, since only its
// hash is stored).
type DemoApp struct {
	App          model.App
	ClientSecret string
	RedirectURL  string // the demo app's landing page
}

// EnsureDemoApp creates the demo app, or finds the one a previous start
// created and rotates its secret. It fails when the demo is off.
func (b *Broker) EnsureDemoApp(ctx context.Context) (DemoApp, error) {
	if b.demo == nil {
		return DemoApp{}, errors.New("broker: the demo is off (serve --demo or demo: true)")
	}
	svc := b.deps.Apps
	path := filepath.Join(b.cfg.Server.DataDir, demoAppFile)
	out := DemoApp{RedirectURL: b.demo.AppRedirectURL()}
	if raw, err := os.ReadFile(path); err == nil {
		if app, err := svc.Get(ctx, strings.TrimSpace(string(raw))); err == nil {
			secret, err := svc.RotateSecret(ctx, app.ID)
			if err != nil {
				return DemoApp{}, fmt.Errorf("broker: demo app: %w", err)
			}
			out.App, out.ClientSecret = app, secret
			return out, nil
		}
	}
	app, secret, _, err := svc.Create(ctx, apps.AppInput{
		Name:                "Demo app",
		Description:         "Created by serve --demo to try the broker.",
		AllowedRedirectURIs: []string{out.RedirectURL},
	})
	if err != nil {
		return DemoApp{}, fmt.Errorf("broker: demo app: %w", err)
	}
	if err := os.MkdirAll(b.cfg.Server.DataDir, 0o700); err == nil {
		_ = os.WriteFile(path, []byte(app.ID+"\n"), 0o600) // best effort: without it a restart makes a new app
	}
	out.App, out.ClientSecret = app, secret
	return out, nil
}
