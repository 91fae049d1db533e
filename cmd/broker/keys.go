package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/oauthbroker/broker/broker/rotation"
	"github.com/oauthbroker/broker/broker/secrets"
)

func (c *cli) keysCmd() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "encryption key rotation"}
	keys.AddCommand(&cobra.Command{
		Use:   "generate",
		Short: "print a new random encryption key (base64, 32 bytes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := secrets.GenerateKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	})
	var batch int
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "re-encrypt every stored credential under the primary key, in batches, while replicas serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := c.open(cmd.Context())
			if err != nil {
				return err
			}
			defer env.Close()
			n, err := rotation.Run(cmd.Context(), env.Store, env.Keys, batch)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-encrypted %d record(s) under key %q\n", n, env.Keys.PrimaryID())
			return nil
		},
	}
	rotate.Flags().IntVar(&batch, "batch", rotation.DefaultBatch, "records per batch")
	keys.AddCommand(rotate)
	return keys
}
