package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/cache"
)

func newCacheCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage the per-layer analysis cache",
	}
	var dir string
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove every cached layer analysis",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, err := cache.Open(dir)
			if err != nil {
				return err
			}
			n, err := c.Clean()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %d cached layers from %s\n", n, dir)
			return nil
		},
	}
	clean.Flags().StringVar(&dir, "cache-dir", cache.DefaultDir(), "cache directory")
	cmd.AddCommand(clean)
	return cmd
}
