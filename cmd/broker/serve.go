package main

import (
	"errors"
	"fmt"
	"log/slog"

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
			cfg, logger, err := c.loadConfig(func(cfg *config.Config) *slog.Logger { return broker.NewLogger(cfg.Log, c.err) })
			if err != nil {
				return err
			}
			b, err := broker.New(cmd.Context(), cfg, broker.Options{Logger: logger})
			if err != nil {
				return err
			}
			defer b.Close()
			return b.ListenAndServe(cmd.Context())
		},
	}
	return cmd
}

func (c *cli) checkConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "load and validate the config; print every problem with its YAML path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(c.configPath)
			if err == nil {
				err = cfg.Validate()
			}
			if err != nil {
				var verrs config.ValidationErrors
				if errors.As(err, &verrs) {
					for _, e := range verrs {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", e.Path, e.Message)
					}
					return fmt.Errorf("%s: %d problem(s)", c.configPath, len(verrs))
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", c.configPath)
			return nil
		},
	}
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
