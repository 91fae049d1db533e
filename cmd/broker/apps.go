package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthbroker/broker/broker/api"
	"github.com/oauthbroker/broker/broker/apps"
	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

// newAppsCmd is `broker apps …`: app management straight against the
// configured store, for operators without HTTP access to the admin API. The
// rules are the admin API's (broker/apps). A change made here reaches a
// running broker's authentication cache within middleware.AppCacheTTL
// (at once on PostgreSQL, through LISTEN/NOTIFY).
func newAppsCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{Use: "apps", Short: "create, inspect, rotate and delete client apps"}
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.AddCommand(appsCreateCmd(c, &asJSON), appsGetCmd(c, &asJSON), appsListCmd(c, &asJSON),
		appsRotateCmd(c, &asJSON), appsDeleteCmd(c))
	return cmd
}

// withApps opens the store and runs fn with an app service over it.
func withApps(c *cli, cmd *cobra.Command, fn func(*apps.Service) error) error {
	env, err := c.open(cmd.Context())
	if err != nil {
		return err
	}
	defer env.Close()
	svc, err := apps.New(apps.Options{Store: env.Store, Keys: env.Keys})
	if err != nil {
		return err
	}
	return fn(svc)
}

func appsCreateCmd(c *cli, asJSON *bool) *cobra.Command {
	var in apps.AppInput
	var perms []string
	cmd := &cobra.Command{
		Use:   "create --name NAME [--domain HOST]... [--redirect-uri URL]... [--permission P]...",
		Short: "register an app and print its client id and secret (shown only this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range perms {
				in.Permissions = append(in.Permissions, model.Permission(strings.ToUpper(p)))
			}
			return withApps(c, cmd, func(svc *apps.Service) error {
				app, secret, webhookSecret, err := svc.Create(cmd.Context(), in)
				if err != nil {
					return cliError(err)
				}
				out := cmd.OutOrStdout()
				if *asJSON {
					return writeJSON(out, map[string]any{"app": api.ToAppJSON(app), "clientSecret": secret, "webhookSecret": webhookSecret})
				}
				fmt.Fprintf(out, "app id (client id): %s\nclient secret:      %s\nwebhook secret:     %s\n", app.ID, secret, webhookSecret)
				fmt.Fprintln(out, "The secrets are shown only now; store them safely.")
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "display name, 2 to 256 characters (required)")
	f.StringVar(&in.Description, "description", "", "description shown to end users")
	f.StringVar(&in.HomepageURL, "homepage-url", "", "https URL shown on consent and connect pages")
	f.StringVar(&in.LogoURL, "logo-url", "", "https URL of the app's logo")
	f.StringVar(&in.WebhookURL, "webhook-url", "", "https URL that receives connection events")
	f.StringArrayVar(&in.AllowedDomains, "domain", nil, "allowed redirect host (repeatable); its subdomains are allowed too")
	f.StringArrayVar(&in.AllowedRedirectURIs, "redirect-uri", nil, "allowed redirect URI for app-handled code exchange (repeatable)")
	f.StringArrayVar(&perms, "permission", nil, "CONNECTIONS_MANAGE, CONNECTIONS_READ, PROXY or EVENTS_READ (repeatable; default all)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func appsGetCmd(c *cli, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "get APP_ID",
		Short: "show one app (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApps(c, cmd, func(svc *apps.Service) error {
				app, err := svc.Get(cmd.Context(), args[0])
				if err != nil {
					return cliError(err)
				}
				if *asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"app": api.ToAppJSON(app)})
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, row := range [][2]string{
					{"id", app.ID}, {"name", app.Name}, {"description", app.Description}, {"homepageUrl", app.HomepageURL},
					{"logoUrl", app.LogoURL}, {"allowedDomains", strings.Join(app.AllowedDomains, ", ")},
					{"allowedRedirectUris", strings.Join(app.AllowedRedirectURIs, ", ")}, {"loginUrl", app.LoginURL},
					{"logoutUrl", app.LogoutURL}, {"webhookUrl", app.WebhookURL}, {"permissions", joinPerms(app.Permissions)},
					{"createdDate", app.CreatedAt.Format(time.RFC3339)}, {"updatedDate", app.UpdatedAt.Format(time.RFC3339)},
				} {
					fmt.Fprintf(w, "%s\t%s\n", row[0], row[1])
				}
				return w.Flush()
			})
		},
	}
}

func appsListCmd(c *cli, asJSON *bool) *cobra.Command {
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list apps, newest id first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withApps(c, cmd, func(svc *apps.Service) error {
				list, total, err := svc.Query(cmd.Context(), store.AppQuery{Limit: limit, Offset: offset})
				if err != nil {
					return cliError(err)
				}
				if *asJSON {
					views := make([]api.AppJSON, len(list))
					for i, a := range list {
						views[i] = api.ToAppJSON(a)
					}
					return writeJSON(cmd.OutOrStdout(), map[string]any{
						"apps": views, "pagingMetadata": map[string]int{"count": len(list), "offset": offset, "total": total},
					})
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tDOMAINS\tCREATED")
				for _, a := range list {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.ID, a.Name, strings.Join(a.AllowedDomains, ","), a.CreatedAt.Format(time.RFC3339))
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d of %d app(s)\n", len(list), total)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", apps.DefaultLimit, fmt.Sprintf("apps per page (at most %d)", apps.MaxLimit))
	cmd.Flags().IntVar(&offset, "offset", 0, "apps to skip")
	return cmd
}

func appsRotateCmd(c *cli, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret APP_ID",
		Short: "replace the app's client secret and print the new one (shown only this once); the old one stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApps(c, cmd, func(svc *apps.Service) error {
				secret, err := svc.RotateSecret(cmd.Context(), args[0])
				if err != nil {
					return cliError(err)
				}
				if *asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]string{"clientSecret": secret})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "client secret: %s\nThe secret is shown only now; store it safely.\n", secret)
				return nil
			})
		},
	}
}

func appsDeleteCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "delete APP_ID",
		Short: "delete the app: its secret stops working and its connections are disconnected",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApps(c, cmd, func(svc *apps.Service) error {
				if err := svc.Delete(cmd.Context(), args[0]); err != nil {
					return cliError(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
				return nil
			})
		},
	}
}

func joinPerms(ps []model.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// cliError prefixes a validation error with the field, flag-friendly.
func cliError(err error) error {
	var e *model.Error
	if errors.As(err, &e) && e.Field != "" {
		return fmt.Errorf("%s: %s", strings.TrimPrefix(e.Field, "app."), e.Message)
	}
	return err
}
