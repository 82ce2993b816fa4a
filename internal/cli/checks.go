package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/check"
)

func newChecksCmd(stdout io.Writer) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List the image configuration checks",
		Long: `List every image configuration check with its id, usual severity, CIS Docker
Benchmark (v1.6) section and remediation. Pass ids to --skip-checks of
` + "`customs image`" + ` to turn checks off.

Secrets in ENV or build history and passwords in /etc/shadow are reported by
the secret scanner, not by these checks.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			switch format {
			case "json":
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(check.All())
			case "table":
				return writeChecksTable(stdout)
			}
			return &exitError{ExitError, fmt.Errorf("--format %q: table or json", format)}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table or json")
	return cmd
}

func writeChecksTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tCIS\tTITLE")
	for _, c := range check.All() {
		cis := c.CIS
		if cis == "" {
			cis = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Severity, cis, c.Title)
		fmt.Fprintf(tw, "\t\t\t  fix: %s\n", c.Remediation)
		if c.SeverityNote != "" {
			fmt.Fprintf(tw, "\t\t\t  severity: %s\n", c.SeverityNote)
		}
	}
	return tw.Flush()
}
