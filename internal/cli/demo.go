package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/demo"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var format, keep string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Scan the bundled sample image with the bundled sample vulnerability data",
		Long: `Build a small sample image (Debian 12 with a Node.js application; see
internal/demo/sample/README.md) as an OCI layout and scan it end to end with the
bundled sample vulnerability dataset: no network, no daemon, no cache.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := keep
			if dir == "" {
				tmp, err := os.MkdirTemp("", "customs-demo-*")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			if err := demo.Build(dir); err != nil {
				return &exitError{ExitError, fmt.Errorf("building the sample image: %w", err)}
			}
			img := newImageCmd(stdout, stderr, false)
			img.SetArgs([]string{dir, "--db-dir", vulndb.SampleName, "--no-cache", "--format", format})
			return img.ExecuteContext(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "report format (as for customs image)")
	cmd.Flags().StringVar(&keep, "keep", "", "write the sample OCI layout to this directory and keep it")
	return cmd
}
