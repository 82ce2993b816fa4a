package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/vulndb"
)

func newDBCmd(stdout, stderr io.Writer) *cobra.Command {
	var t dbTarget
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the vulnerability database (OSV)",
		Long: `customs matches packages against a local copy of the OSV vulnerability data,
kept in an SQLite database. "db update" downloads the per-ecosystem OSV exports;
on machines without network, "db export" on one machine and "db import" on the
other move the database as one file. An update that fails or is interrupted
leaves the previous database intact.

A server ("customs server") keeps its database in its store, so every worker
matches against the same one: give the server's --data-dir (embedded store) or
--database (PostgreSQL, or $` + EnvDatabase + `) and "db update" and "db import" build on
the stored database in a local working copy, then publish the result to the
store, where running servers pick it up; "db status" shows the stored one.`,
		Example: `  customs db update --data-dir /var/lib/customs
  customs db import --database postgres://customs@db/customs ./customs-db.zip
  customs db status --database postgres://customs@db/customs`,
	}
	t.register(cmd)

	var opt vulndb.UpdateOptions
	update := &cobra.Command{
		Use:   "update",
		Short: "Download the OSV exports and rebuild the database",
		Example: `  customs db update
  customs db update --ecosystems Debian,npm
  customs db update --db-source https://osv-mirror.internal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt.Progress = func(msg string) { fmt.Fprintln(stderr, msg) }
			return t.build(cmd, stdout, func() error {
				b, err := vulndb.Update(cmd.Context(), t.dir, opt)
				if err != nil {
					return &exitError{ExitError, err}
				}
				return printStatus(cmd.Context(), stdout, t.dir, b.SkipSummary())
			})
		},
	}
	update.Flags().StringVar(&opt.Source, "db-source", vulndb.DefaultSource, "base URL of the OSV exports (<base>/<Ecosystem>/all.zip)")
	update.Flags().StringSliceVar(&opt.Ecosystems, "ecosystems", nil, "ecosystems to fetch (default all that customs matches)")

	imp := &cobra.Command{
		Use:   "import PATH...",
		Short: "Import OSV records from directories, record files, OSV export zips or a customs db export",
		Long: `Import OSV records. Files that are not valid OSV records are skipped and named;
a path that yields no valid record fails the whole import (exit 2) and the
database stays as it was. Records that name no package, such as osv.dev's CVE
records, are kept: they give their CVSS vectors to the advisories that name
them as aliases or upstream ids.`,
		Example: "  customs db import ./customs-db.zip\n  customs db import ./osv/Debian/all.zip ./advisories/",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return t.build(cmd, stdout, func() error {
				b, err := vulndb.Import(cmd.Context(), t.dir, args)
				if err != nil {
					return &exitError{ExitError, fmt.Errorf("%w (the database is unchanged)", err)}
				}
				return printStatus(cmd.Context(), stdout, t.dir, b.SkipSummary())
			})
		},
	}

	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the database's sources, record counts and age (and, on a store, its generation there)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stored, err := t.storeInfo(cmd)
			if err != nil {
				return &exitError{ExitError, err}
			}
			db, err := vulndb.Open(t.dir)
			if err != nil {
				return &exitError{ExitError, fmt.Errorf("%w: run `customs db update` or `customs db import FILE`", err)}
			}
			defer db.Close()
			st, err := db.Status(cmd.Context())
			if err != nil {
				return &exitError{ExitError, err}
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					*vulndb.Status
					Store *storedDB `json:"store,omitempty"`
				}{st, stored})
			}
			writeStatus(stdout, st, "")
			if stored != nil {
				stored.write(stdout)
			}
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")

	export := &cobra.Command{
		Use:     "export FILE",
		Short:   "Write the database as one zip file that `customs db import` reads",
		Example: "  customs db export customs-db.zip",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := t.storeInfo(cmd); err != nil {
				return &exitError{ExitError, err}
			}
			st, err := vulndb.Export(cmd.Context(), t.dir, args[0])
			if err != nil {
				return &exitError{ExitError, err}
			}
			fmt.Fprintf(stdout, "exported %d records from %d sources to %s\n", st.Records, len(st.Sources), args[0])
			return nil
		},
	}
	cmd.AddCommand(update, imp, status, export)
	return cmd
}

func printStatus(ctx context.Context, w io.Writer, dir, skipped string) error {
	db, err := vulndb.Open(dir)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return &exitError{ExitError, err}
	}
	writeStatus(w, st, skipped)
	return nil
}

// writeStatus prints the database's size, record count, generation, what
// the last import skipped (when given) and its sources.
func writeStatus(w io.Writer, st *vulndb.Status, skipped string) {
	fmt.Fprintf(w, "Database: %s (%.1f MB)\n", st.Path, float64(st.Size)/(1<<20))
	if st.Records == 0 {
		fmt.Fprintln(w, "Records:  0: the database holds no advisory record, so scans have no vulnerability data")
	} else {
		from := "sources"
		if len(st.Sources) == 1 {
			from = "source"
		}
		fmt.Fprintf(w, "Records:  %d advisory records from %d %s, naming packages of %d ecosystems (--json lists them)\n", st.Records, len(st.Sources), from, len(st.Ecosystems))
	}
	fmt.Fprintf(w, "Generation: %d (moves on with every import or update that changes a record)\n", st.Generation)
	if skipped != "" {
		fmt.Fprintf(w, "Skipped:  %s\n", skipped)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECORDS\tFETCHED\tAGE\tORIGIN")
	for _, s := range st.Sources {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", s.Name, s.Records, s.FetchedAt.Format(time.RFC3339), time.Since(s.FetchedAt).Round(time.Minute), s.Origin)
	}
	tw.Flush()
}
