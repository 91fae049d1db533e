package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/config"
)

func (c *cli) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the broker's HTTP server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, dev, err := c.loadConfig(func(cfg *config.Config) *slog.Logger { return broker.NewLogger(cfg.Log, c.err) })
			if err != nil {
				return err
			}
			if dev.InUse {
				broker.WarnDevSecrets(logger, dev) // once per start
			}
			bi := readBuildInfo()
			b, err := broker.New(cmd.Context(), cfg, broker.Options{Logger: logger, Version: bi.Version})
			if err != nil {
				return err
			}
			defer b.Close()
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s (server.listen): %w", cfg.Server.Listen, err)
			}
			c.printStart(c.out, cfg, bi, ln.Addr().String())
			if cfg.Demo {
				d, err := b.EnsureDemoApp(cmd.Context())
				if err != nil {
					ln.Close()
					return err
				}
				printDemo(c.out, cfg, d)
			}
			return b.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().BoolVar(&c.demo, "demo", false, "mount the built-in demo provider under /demo/ and create a demo app (same as demo: true; refused in production)")
	cmd.Flags().StringVar(&c.listen, "listen", "", "address to listen on, host:port (server.listen); publicUrl follows it unless set")
	return cmd
}

// printDemo tells the operator how to try the demo: the app's credentials
// (the secret is valid from this start on) and the first command to run.
func printDemo(w io.Writer, cfg *config.Config, d broker.DemoApp) {
	pub := strings.TrimRight(cfg.Server.PublicURL, "/")
	fmt.Fprintf(w, `
  Demo provider: %[1]s/demo/   (provider id "demo", no account needed)
  Demo app "%[2]s" (its secret changes at every start):

    export CLIENT_ID=%[3]s
    export CLIENT_SECRET=%[4]s

  Get a connect page for a schedule, open its connectUrl, pick Demo Calendar, press Allow:

    curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -H 'Content-Type: application/json' \
      -d '{"scheduleId":"demo-schedule","redirectUrl":"%[5]s"}' %[1]s/v1/connect/sessions

`, pub, d.App.Name, d.App.ID, d.ClientSecret, d.RedirectURL)
}

func (c *cli) checkConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "load and validate the config; print every problem with its YAML path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := c.checked(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", c.source())
			return nil
		},
	}
	cmd.Flags().BoolVar(&c.demo, "demo", false, "check the config as serve --demo would run it")
	cmd.Flags().StringVar(&c.listen, "listen", "", "check the config as serve --listen would run it")
	return cmd
}

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "apply the store's schema migrations (ahead of a rollout)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := c.open(cmd.Context())
			if err != nil {
				return err
			}
			defer env.Close()
			applied, known, err := env.Store.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema version %d (this broker knows %d)\n", applied, known)
			return nil
		},
	}
}
