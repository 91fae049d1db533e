package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oauthbroker/broker/config"
	"github.com/oauthbroker/broker/providers"
)

// printStart tells the operator what started: the version, where it
// listens and is reached, the config, the store and the providers apps can
// connect. Nothing secret: the store is named without its password.
func (c *cli) printStart(w io.Writer, cfg *config.Config, bi buildInfo, addr string) {
	source := c.configPath
	if c.noConfigFile {
		source = "none (no " + config.DefaultConfigFile + ": every key at its default)"
	}
	public := cfg.Server.PublicURL
	if cfg.PublicURLFollowsListen() {
		public += "   (follows server.listen; set server.publicUrl for another)"
	}
	fmt.Fprintf(w, "broker %s\n  listening on  %s\n  public URL    %s\n  config        %s\n",
		bi.short(), addr, public, source)
	if unread := unreadEnv(c.noConfigFile); len(unread) > 0 {
		fmt.Fprintf(w, "                (not read without a config file: %s)\n", strings.Join(unread, ", "))
	}
	fmt.Fprintf(w, "  store         %s\n", describeStore(cfg))
	offered, ownClient := offeredProviders(cfg)
	switch {
	case len(offered) > 0:
		fmt.Fprintf(w, "  providers     %s\n", strings.Join(offered, ", "))
	default:
		fmt.Fprintf(w, "  providers     none yet: set a provider's clientId and clientSecret (docs/providers.md), or try serve --demo\n")
	}
	if len(ownClient) > 0 {
		fmt.Fprintf(w, "                (to apps with their own OAuth client only: %s)\n", strings.Join(ownClient, ", "))
	}
}

// unreadEnv names the BROKER_* variables that are set although no config
// file refers to them (only a file's ${NAME} reads the environment), so an
// operator who exported BROKER_ADMIN_TOKEN without a broker.yaml is told.
// Names only, never values.
func unreadEnv(noConfigFile bool) []string {
	if !noConfigFile {
		return nil
	}
	var names []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "BROKER_") && name != config.ConfigFileEnv && !strings.HasPrefix(name, "BROKER_TEST_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// describeStore names the store: the SQLite file, or PostgreSQL's host,
// port, database and user, never the DSN itself (it may hold a password).
func describeStore(cfg *config.Config) string {
	if cfg.Store.Driver != config.DriverPostgres {
		return "sqlite " + cfg.SQLitePath()
	}
	pc, err := pgconn.ParseConfig(cfg.Store.DSN)
	if err != nil {
		return "postgres (store.dsn could not be read back; it is not shown)"
	}
	s := "postgres " + net.JoinHostPort(pc.Host, fmt.Sprint(pc.Port)) + "/" + pc.Database
	if pc.User != "" {
		s += " as " + pc.User
	}
	return s
}

// offeredProviders lists the enabled providers: those every app can use
// (no OAuth client needed, or the broker's own is set, or the demo), and
// the OAuth ones offered only to an app that registered its own client
// (the same rule as GET /v1/providers).
func offeredProviders(cfg *config.Config) (offered, ownClient []string) {
	reg, err := cfg.ProviderRegistry()
	if err != nil {
		return nil, nil // validated before; nothing to add here
	}
	for _, p := range reg.All() {
		switch {
		case !p.IsEnabled():
		case p.Kind == providers.KindOAuth2 && !p.HasBrokerClient():
			ownClient = append(ownClient, p.ID)
		default:
			offered = append(offered, p.ID)
		}
	}
	if cfg.Demo {
		offered = append([]string{config.DemoProviderID}, offered...)
	}
	return offered, ownClient
}
