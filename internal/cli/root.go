// Package cli wires the customs command line: flags, sources, the scan
// pipeline and report writers. It holds no analysis logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the command line with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "customs:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "customs:", err)
	return ExitError
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "customs",
		Short: "Container image and registry security scanner",
		Long: `customs scans container images for vulnerable packages, malware, secrets and
risky configuration, and audits registries.

Images can come from a registry, a local Docker Engine, containerd or Podman,
a docker-save tarball, an OCI layout or archive, or a root filesystem directory.

Exit codes: 0 scan done; N (the value of --exit-code) findings remain after the
filters; 2 usage or scan error, or a vulnerability database older than --db-max-age.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var memLimitMB int64
	root.PersistentFlags().Int64Var(&memLimitMB, "memory-limit-mb", defaultMemoryLimitMB,
		"soft limit on the scanner's memory in MiB: the garbage collector works harder near it (0: none; $GOMEMLIMIT wins; the server's default is this per --workers, plus one)")
	root.PersistentPreRun = func(*cobra.Command, []string) { setMemoryLimit(memLimitMB) }
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newImageCmd(stdout, stderr, false), newImageCmd(stdout, stderr, true), newCacheCmd(stdout), newVersionCmd(stdout))
	root.AddCommand(newChecksCmd(stdout))
	root.AddCommand(newDBCmd(stdout, stderr))
	root.AddCommand(newDemoCmd(stdout, stderr))
	root.AddCommand(newRegistryCmd(stdout, stderr))
	root.AddCommand(newServerCmd(stdout, stderr), newAuthzCmd(stderr))
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the customs version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(stdout, "customs", Version)
			return nil
		},
	}
}

// defaultMemoryLimitMB keeps a scan's memory bounded whatever the image
// size: the layer engine streams, and what it holds at once is a few file
// buffers and the results. The server allows this much per scan worker
// and once more for itself (see serverMemoryLimitMB).
const defaultMemoryLimitMB = 64

// serverMemoryLimitMB is the server's soft memory limit when
// --memory-limit-mb is not given: defaultMemoryLimitMB per scan worker,
// and once more for the API, the job queue and the store.
func serverMemoryLimitMB(workers int) int64 {
	return defaultMemoryLimitMB * int64(max(workers, 1)+1)
}

// setMemoryLimit sets the runtime's soft memory limit, unless GOMEMLIMIT
// already does. Under that limit the collector need not also run each time
// the heap doubles: it runs when the heap grows fivefold (GOGC 400, unless
// $GOGC says otherwise), which spares a rescan served from the cache most
// of its collections, and a full scan some, with the same peak memory.
func setMemoryLimit(mb int64) {
	if os.Getenv("GOMEMLIMIT") != "" || mb <= 0 {
		return
	}
	debug.SetMemoryLimit(mb << 20)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercentUnderLimit)
	}
}

// gcPercentUnderLimit is the GOGC of a process with a memory limit.
const gcPercentUnderLimit = 400

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
