package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/oauthbroker/broker/broker"
	"github.com/oauthbroker/broker/broker/secrets"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/config"
)

// cli carries the global flags and the output streams, so tests can run
// commands in-process.
type cli struct {
	configPath string
	// configExplicit: -c or BROKER_CONFIG named the file, so a missing one
	// is an error; only the implicit ./broker.yaml may be absent.
	configExplicit bool
	// noConfigFile: there was no ./broker.yaml, every key is at its default.
	noConfigFile bool
	// demo is --demo of serve and check-config: demo: true without
	// editing broker.yaml, validated like the key itself.
	demo bool
	// listen is --listen of serve and check-config: server.listen, with a
	// publicUrl that follows it unless the file sets one.
	listen   string
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
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
}

// errorLine is how a failed command ends: one "broker: " prefix, also when
// the error comes from package broker, whose errors start with its name.
func errorLine(err error) string {
	return "broker: " + strings.TrimPrefix(err.Error(), "broker: ")
}

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "broker",
		Short:         "OAuth broker for calendar and booking integrations",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			c.configExplicit = c.configExplicit || cmd.Flags().Changed("config")
		},
	}
	root.SetOut(c.out)
	root.SetErr(c.err)
	def := os.Getenv(config.ConfigFileEnv)
	c.configExplicit = def != ""
	if def == "" {
		def = config.DefaultConfigFile
	}
	root.PersistentFlags().StringVarP(&c.configPath, "config", "c", def, "config file (env "+config.ConfigFileEnv+"); without it and with no ./"+config.DefaultConfigFile+", every key has its default")
	root.AddCommand(c.serveCmd(), c.checkConfigCmd(), c.migrateCmd(), newAppsCmd(c), c.keysCmd(), c.versionCmd())
	return root
}

// loadConfig loads and validates broker.yaml, builds the logger from it
// (the warn-level CLI logger for one-shot commands, log.* for serve), and
// fills development secrets outside production.
func (c *cli) loadConfig(newLogger func(*config.Config) *slog.Logger) (*config.Config, *slog.Logger, broker.DevSecrets, error) {
	cfg, err := c.checked()
	if err != nil {
		return nil, nil, broker.DevSecrets{}, err
	}
	logger := newLogger(cfg)
	dev, err := broker.FillDevSecrets(cfg)
	if err != nil {
		return nil, nil, dev, err
	}
	if dev.NewAdminToken != "" {
		// Shown once, on the terminal of the developer who started it:
		// this is how a fresh clone gets its first admin call.
		fmt.Fprintf(c.err, "\n  Development admin token (also in %s):\n\n    %s\n\n", dev.Path, dev.NewAdminToken)
	}
	return cfg, logger, dev, nil
}

// checked loads the config, applies the command-line overrides and finds
// every problem in one pass (config.Check). The problems go to stderr one
// "path: message" a line, and the error returned counts them.
func (c *cli) checked() (*config.Config, error) {
	cfg, err := c.load()
	if cfg != nil {
		err = config.Check(cfg, err)
	}
	var verrs config.ValidationErrors
	if errors.As(err, &verrs) {
		for _, e := range verrs {
			fmt.Fprintf(c.err, "%s: %s\n", e.Path, e.Message)
		}
		return nil, fmt.Errorf("%s: %d problem(s)", c.source(), len(verrs))
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// source names where the config came from, for messages.
func (c *cli) source() string {
	if c.noConfigFile {
		return "the defaults (no " + config.DefaultConfigFile + ")"
	}
	return c.configPath
}

// load reads broker.yaml and applies the command-line overrides, before
// anything validates it, so a flag is refused exactly like its key. With
// ValidationErrors it still returns the config, for config.Check. With no
// -c, no BROKER_CONFIG and no ./broker.yaml it is every default.
func (c *cli) load() (*config.Config, error) {
	cfg, err := config.Load(c.configPath)
	c.noConfigFile = false
	if err != nil && !c.configExplicit && errors.Is(err, fs.ErrNotExist) {
		cfg, err = config.Parse(nil, nil)
		c.noConfigFile = true
	}
	if cfg == nil {
		return nil, err
	}
	if c.demo {
		cfg.Demo = true
	}
	if c.listen != "" {
		cfg.SetListen(c.listen)
	}
	return cfg, err
}

// open loads the config and opens the store with migrations applied, for
// the commands that work on stored data. Development keys are announced
// only when this command generated them: serve warns on every start.
func (c *cli) open(ctx context.Context) (*runtimeEnv, error) {
	cfg, logger, dev, err := c.loadConfig(func(*config.Config) *slog.Logger {
		return slog.New(slog.NewTextHandler(c.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if err != nil {
		return nil, err
	}
	if dev.Created {
		broker.WarnDevSecrets(logger, dev)
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
