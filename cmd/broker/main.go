package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/config"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// cli carries the global flags and the output streams, so tests can run
// commands in-process.
type cli struct {
	configPath string
	// demo is --demo of serve and check-config: demo: true without
	// editing broker.yaml, validated like the key itself.
	demo     bool
	out, err io.Writer
}

// runtimeEnv is what the store-touching commands need.
type runtimeEnv struct {
	Config *config.Config
	Store  store.Store
	Keys   *secrets.KeyRing
	Logger *slog.Logger
	Close  func()
}

func main() {
	// The process is the CLI's: it, not package broker, picks Gin's
	// process-wide mode (release: no debug route listing on stdout).
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{out: os.Stdout, err: os.Stderr}
	if err := c.root().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "broker:", err)
		os.Exit(1)
	}
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "broker",
		Short:         "OAuth broker for calendar and booking integrations",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(c.out)
	root.SetErr(c.err)
	def := os.Getenv("BROKER_CONFIG")
	if def == "" {
		def = "broker.yaml"
	}
	root.PersistentFlags().StringVarP(&c.configPath, "config", "c", def, "config file (env BROKER_CONFIG)")
	root.AddCommand(c.serveCmd(), c.checkConfigCmd(), c.migrateCmd(), newAppsCmd(c), c.keysCmd(), c.versionCmd())
	return root
}

// loadConfig loads and validates broker.yaml, builds the logger from it
// (the warn-level CLI logger for one-shot commands, log.* for serve), and
// fills development secrets outside production.
func (c *cli) loadConfig(newLogger func(*config.Config) *slog.Logger) (*config.Config, *slog.Logger, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	logger := newLogger(cfg)
	if err := broker.PrepareSecrets(cfg, logger, c.err); err != nil {
		return nil, nil, err
	}
	return cfg, logger, nil
}

// load reads broker.yaml and applies the command-line overrides, before
// anything validates it, so a flag is refused exactly like its key.
func (c *cli) load() (*config.Config, error) {
	cfg, err := config.Load(c.configPath)
	if err != nil {
		return nil, err
	}
	if c.demo {
		cfg.Demo = true
	}
	return cfg, nil
}

// open loads the config and opens the store with migrations applied, for
// the commands that work on stored data.
func (c *cli) open(ctx context.Context) (*runtimeEnv, error) {
	cfg, logger, err := c.loadConfig(func(*config.Config) *slog.Logger {
		return slog.New(slog.NewTextHandler(c.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if err != nil {
		return nil, err
	}
	keys, err := broker.KeyRing(cfg)
	if err != nil {
		return nil, err
	}
	st, err := broker.OpenStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return &runtimeEnv{Config: cfg, Store: st, Keys: keys, Logger: logger, Close: func() { st.Close() }}, nil
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "broker", Version)
			return nil
		},
	}
}
