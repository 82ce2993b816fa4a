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
	var maxMB int64
	prune := &cobra.Command{
		Use:   "prune",
		Short: "Remove the least recently used cached results beyond a size",
		Long: `Remove the least recently used layer and image results until the cache holds
at most --max-mb MiB, and temporary files that interrupted scans left behind.
Scans already do this once a day to --cache-max-mb; results of older customs
versions, which no scan reads any more, go first.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if maxMB < 0 {
				return &exitError{ExitError, fmt.Errorf("--max-mb %d: want 0 or more", maxMB)}
			}
			c, err := cache.Open(dir)
			if err != nil {
				return err
			}
			n, freed, err := c.Prune(maxMB << 20)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "removed %d cached results (%.1f MiB) from %s\n", n, float64(freed)/(1<<20), dir)
			return nil
		},
	}
	prune.Flags().StringVar(&dir, "cache-dir", cache.DefaultDir(), "cache directory")
	prune.Flags().Int64Var(&maxMB, "max-mb", cache.DefaultMaxBytes>>20, "size to keep the cache to, in MiB")
	cmd.AddCommand(clean, prune)
	return cmd
}
