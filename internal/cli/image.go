package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/verdict"
)

// imageFlags are the flags of `customs image` and `customs sbom`.
type imageFlags struct {
	cfg       pipeline.Config
	platform  string
	format    string
	output    string
	quiet     bool
	sbomsOnly bool
	gate      gateFlags
	analysis  analysisFlags
	// policy is the image policy file (--policy).
	policy string
}

func newImageCmd(stdout, stderr io.Writer, sbom bool) *cobra.Command {
	f := &imageFlags{sbomsOnly: sbom}
	cmd := &cobra.Command{
		Use:   "image REF",
		Short: "Scan a container image",
		Long: `Scan a container image for packages, vulnerabilities, malware, secrets and
risky configuration.

REF is what you have:
  nginx:1.25, registry.example.com:5000/team/app@sha256:...   a registry image
  myapp:dev                                                   a local image (Docker, then containerd, then Podman, then the registry)
  ./image.tar, ./image.tar.gz                                 a docker save archive, or an OCI archive
  ./layout-dir                                                an OCI image layout
  ./rootfs                                                    a root filesystem directory
--source forces one kind of source.`,
		Example: `  customs image alpine:3.19
  customs image --source docker myapp:dev
  customs image ./app.tar --format json --output report.json
  customs image registry.internal:5000/team/app:1.2 --username ci --password "$TOKEN"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.analysis.apply(&f.cfg); err != nil {
				return &exitError{ExitError, err}
			}
			return runImage(cmd.Context(), args[0], f, stdout, stderr)
		},
	}
	if sbom {
		cmd.Use = "sbom REF"
		cmd.Short = "Write a software bill of materials (CycloneDX or SPDX) of an image"
		cmd.Long = "Inventory an image's packages and write them as an SBOM. REF is as for `customs image`."
		cmd.Example = "  customs sbom alpine:3.19 --format spdx --output alpine.spdx.json"
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cfg.Source.Source, "source", "", "force the kind of source: "+strings.Join(source.Kinds(), ", "))
	fl.StringVar(&f.platform, "platform", "", "platform to pick from a multi-platform image, os/arch[/variant] (default: the host's)")
	registerAuthFlags(fl, &f.cfg.Source)
	registerPullFlags(fl, &f.cfg.Pull)
	fl.StringVar(&f.cfg.Source.DockerHost, "docker-host", "", "Docker Engine address (default: $DOCKER_HOST or unix:///var/run/docker.sock)")
	fl.StringVar(&f.cfg.Source.PodmanHost, "podman-host", "", "Podman API address (default: $CONTAINER_HOST or the Podman socket)")
	fl.StringVar(&f.cfg.Source.ContainerdAddress, "containerd-address", "", "containerd socket (default: $CONTAINERD_ADDRESS or /run/containerd/containerd.sock)")
	fl.StringVar(&f.cfg.Source.ContainerdNamespace, "containerd-namespace", "", "containerd namespace (default: $CONTAINERD_NAMESPACE or k8s.io, then default)")
	formats := "table, json, cyclonedx, spdx"
	def := "table"
	if sbom {
		formats, def = "cyclonedx, spdx", "cyclonedx"
	}
	fl.StringVarP(&f.format, "format", "f", def, "report format: "+formats)
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	registerEngineFlags(fl, &f.cfg)
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress or warnings on standard error")
	fl.DurationVar(&f.cfg.Timeout, "timeout", 30*time.Minute, "give up the scan after this long")
	fl.IntVar(&f.cfg.Parallel, "parallel", 0, "layers analysed at once (default: number of CPUs)")
	if !sbom {
		f.analysis.register(fl, &f.cfg)
		registerVulnFlags(fl, &f.cfg, &f.gate)
		fl.StringVar(&f.policy, "policy", "", "image policy file (YAML, see docs/policy.md): its verdict goes in the report, and a deny exits with --exit-code (1 if not set)")
	}
	return cmd
}

func runImage(ctx context.Context, input string, f *imageFlags, stdout, stderr io.Writer) error {
	if f.sbomsOnly && f.format != "cyclonedx" && f.format != "spdx" {
		return &exitError{ExitError, fmt.Errorf("--format %q: sbom writes cyclonedx or spdx", f.format)}
	}
	if !f.sbomsOnly && !slices.Contains(report.Formats(), f.format) {
		return &exitError{ExitError, fmt.Errorf("--format %q: one of %s", f.format, strings.Join(report.Formats(), ", "))}
	}
	if err := checkOutput(f.output); err != nil {
		return &exitError{ExitError, err}
	}
	plat, err := source.ParsePlatform(f.platform)
	if err != nil {
		return &exitError{ExitError, err}
	}
	var pol *verdict.Policy
	if f.policy != "" {
		if pol, err = verdict.Load(f.policy); err != nil {
			return &exitError{ExitError, fmt.Errorf("--policy: %w", err)}
		}
	}
	cfg := f.cfg
	cfg.Source.Platform = plat
	cfg.SBOMOnly = f.sbomsOnly
	cfg.Version = Version
	prog := newProgress(stderr, f.quiet)
	if prog != nil {
		cfg.Progress = prog.event
	}
	p, err := pipeline.New(ctx, cfg)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer p.Close()
	rep, scanErr := p.Scan(ctx, input)
	prog.finish()
	if rep == nil {
		return &exitError{ExitError, scanErr}
	}
	if pol != nil && scanErr == nil {
		v := pol.Evaluate(verdict.Input{Image: verdict.ImageOf(rep), Report: rep})
		rep.Verdict = &v
	}
	if !f.quiet {
		for _, w := range rep.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if rep.Suppressed > 0 {
			fmt.Fprintf(stderr, "%d findings left out by --severity, --ignore-unfixed, the ignore file or VEX\n", rep.Suppressed)
		}
	}
	if err := writeReport(rep, f.format, f.output, stdout); err != nil {
		return &exitError{ExitError, err}
	}
	if scanErr != nil {
		return &exitError{ExitError, scanErr}
	}
	if f.sbomsOnly {
		return nil
	}
	decide := f.gate.gate().Decide
	if rep.Verdict != nil {
		decide = f.gate.policyExit
	}
	code, err := decide(rep)
	if err != nil {
		return &exitError{ExitError, err}
	}
	if code != 0 {
		return &exitError{code, nil}
	}
	return nil
}

// policyExit is the exit code of a scan judged by an image policy, which
// then decides instead of "any finding": a deny fails with --exit-code (1
// when not set); an allow or warn passes only a report with the data to
// judge on, as the findings gate does.
func (g *gateFlags) policyExit(rep *report.Report) (int, error) {
	if rep.Verdict.Action == verdict.Deny {
		return cmp.Or(g.exitCode, 1), nil
	}
	return 0, pipeline.Gate{AllowMissingData: g.cfg.Vuln.AllowMissingData}.Missing(rep)
}

// checkOutput fails early when --output names a file in a directory that
// does not exist, before a long scan is wasted.
func checkOutput(output string) error {
	if output == "" {
		return nil
	}
	dir := filepath.Dir(output)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--output %s: %w", output, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--output %s: %s is not a directory", output, dir)
	}
	return nil
}

func writeReport(rep *report.Report, format, output string, stdout io.Writer) error {
	if output == "" {
		if isTerminal(stdout) && os.Getenv("NO_COLOR") == "" {
			stdout = report.Colored(stdout) // severity colours in the table
		}
		return report.Write(stdout, format, rep)
	}
	return writeTo(output, stdout, func(w io.Writer) error { return report.Write(w, format, rep) })
}
