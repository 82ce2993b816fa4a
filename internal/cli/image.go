package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/analyzer/malware"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
)

// imageFlags are the flags of `customs image` and `customs sbom`.
type imageFlags struct {
	src       source.Options
	platform  string
	format    string
	output    string
	cacheDir  string
	noCache   bool
	quiet     bool
	timeout   time.Duration
	parallel  int
	limits    layer.Limits
	scanners  []string
	sbomsOnly bool
	vuln      vulnFlags
	// skipChecks and maxImageAge configure the configuration checks.
	skipChecks  []string
	maxImageAge int
	// showSecrets and secretConfig configure the secret scanner.
	showSecrets  bool
	secretConfig string
	// pull holds the pull-integrity flags (--require-digest, signatures).
	pull pullFlags
	// malware names the malware detection sources besides the built-in rules.
	malware malware.Sources
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
	fl.StringVar(&f.src.Source, "source", "", "force the kind of source: "+strings.Join(source.Kinds(), ", "))
	fl.StringVar(&f.platform, "platform", "", "platform to pick from a multi-platform image, os/arch[/variant] (default: the host's)")
	fl.StringVar(&f.src.Username, "username", "", "registry user name (or $"+source.EnvUsername+")")
	fl.StringVar(&f.src.Password, "password", "", "registry password or token (or $"+source.EnvPassword+")")
	fl.BoolVar(&f.src.Insecure, "insecure", false, "skip TLS certificate verification for the registry")
	fl.BoolVar(&f.src.PlainHTTP, "plain-http", false, "allow talking to the registry over plain HTTP")
	f.pull.register(fl)
	fl.StringVar(&f.src.DockerHost, "docker-host", "", "Docker Engine address (default: $DOCKER_HOST or unix:///var/run/docker.sock)")
	fl.StringVar(&f.src.PodmanHost, "podman-host", "", "Podman API address (default: $CONTAINER_HOST or the Podman socket)")
	fl.StringVar(&f.src.ContainerdAddress, "containerd-address", "", "containerd socket (default: $CONTAINERD_ADDRESS or /run/containerd/containerd.sock)")
	fl.StringVar(&f.src.ContainerdNamespace, "containerd-namespace", "", "containerd namespace (default: $CONTAINERD_NAMESPACE or k8s.io, then default)")
	formats := "table, json, cyclonedx, spdx"
	def := "table"
	if sbom {
		formats, def = "cyclonedx, spdx", "cyclonedx"
	}
	fl.StringVarP(&f.format, "format", "f", def, "report format: "+formats)
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.StringVar(&f.cacheDir, "cache-dir", cache.DefaultDir(), "directory for cached layer analyses")
	fl.BoolVar(&f.noCache, "no-cache", false, "neither read nor write the layer cache")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress or warnings on standard error")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up the scan after this long")
	fl.IntVar(&f.parallel, "parallel", 0, "layers analysed at once (default: number of CPUs)")
	fl.Int64Var(&f.limits.MaxFileBytes, "max-file-size", layer.DefaultMaxFileBytes, "bytes read from one file for analysis")
	fl.Int64Var(&f.limits.MaxLayerBytes, "max-layer-size", layer.DefaultMaxLayerBytes, "uncompressed bytes allowed in one layer")
	fl.IntVar(&f.limits.MaxEntries, "max-entries", layer.DefaultMaxEntries, "entries allowed in one layer")
	if !sbom {
		fl.StringSliceVar(&f.scanners, "scanners", nil, "scanners to run (default all): "+strings.Join(scannerNames(), ", "))
		f.vuln.register(fl)
		fl.StringSliceVar(&f.skipChecks, "skip-checks", nil, "configuration check ids not to report (see `customs checks`)")
		fl.IntVar(&f.maxImageAge, "max-image-age", check.DefaultMaxImageAgeDays, "days after which an image counts as old (image-age check); negative disables")
		fl.BoolVar(&f.showSecrets, "show-secrets", false, "show secrets and cracked passwords in findings instead of redacting them")
		fl.StringVar(&f.secretConfig, "secret-config", "", "gitleaks-format TOML file with more secret rules and allowlists (paths, regexes)")
		fl.StringVar(&f.malware.ClamAVDB, "clamav-db", "", "directory of ClamAV databases (.cvd, .cld, .hdb, .hsb, .mdb, .msb, .ndb, .ldb, ...) to match every file against")
		fl.StringVar(&f.malware.Clamd, "clamd", "", "clamd to stream every file to: unix:///path/clamd.ctl or tcp://host:3310")
		fl.StringVar(&f.malware.YARARules, "yara-rules", "", "YARA rule file, or directory of .yar/.yara files, to match every file against")
	}
	return cmd
}

func scannerNames() []string {
	return []string{all.ScannerPackage, all.ScannerVuln, all.ScannerSecret, all.ScannerMalware, all.ScannerConfig}
}

func runImage(ctx context.Context, input string, f *imageFlags, stdout, stderr io.Writer) error {
	if f.sbomsOnly && f.format != "cyclonedx" && f.format != "spdx" {
		return &exitError{ExitError, fmt.Errorf("--format %q: sbom writes cyclonedx or spdx", f.format)}
	}
	if !f.sbomsOnly && !contains(report.Formats(), f.format) {
		return &exitError{ExitError, fmt.Errorf("--format %q: one of %s", f.format, strings.Join(report.Formats(), ", "))}
	}
	scanners, err := parseScanners(f.scanners, f.sbomsOnly)
	if err != nil {
		return &exitError{ExitError, err}
	}
	plat, err := source.ParsePlatform(f.platform)
	if err != nil {
		return &exitError{ExitError, err}
	}
	f.src.Platform = plat
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	var c *cache.Dir
	if !f.noCache {
		if c, err = cache.Open(f.cacheDir); err != nil {
			return &exitError{ExitError, err}
		}
	}
	if f.pull.requireDigest {
		if err := registry.RequireDigest(input, f.src.NameOptions()...); err != nil {
			return &exitError{ExitError, err}
		}
	}
	img, err := source.Open(ctx, input, &f.src)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer img.Close()
	skip, err := check.ParseSkip(f.skipChecks)
	if err != nil {
		return &exitError{ExitError, fmt.Errorf("--skip-checks: %w", err)}
	}
	cfg := all.Config{Scanners: scanners, SkipChecks: skip, MaxImageAgeDays: f.maxImageAge,
		ShowSecrets: f.showSecrets, SecretConfig: f.secretConfig}
	if !f.sbomsOnly && (len(scanners) == 0 || scanners[all.ScannerMalware]) {
		if cfg.Malware, err = malware.Open(ctx, f.malware); err != nil {
			return &exitError{ExitError, err}
		}
	}
	layerAnalyzers, err := all.Layer(cfg)
	if err != nil {
		return &exitError{ExitError, err}
	}
	imageAnalyzers, err := all.Image(cfg)
	if err != nil {
		return &exitError{ExitError, err}
	}
	opt := scan.Options{
		Analyzers:      layerAnalyzers,
		ImageAnalyzers: imageAnalyzers,
		Limits:         f.limits,
		Cache:          c,
		Parallel:       f.parallel,
	}
	if !f.quiet && isTerminal(stderr) {
		opt.Progress = progressPrinter(stderr)
	}
	res, scanErr := scan.Run(ctx, img, opt)
	if res == nil {
		return &exitError{ExitError, scanErr}
	}
	if opt.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if !f.sbomsOnly {
		if err := matchVulns(ctx, res, &f.vuln, scanners); err != nil {
			return &exitError{ExitError, err}
		}
	}
	if err := f.pull.check(ctx, res, &f.src, f.cacheDir, f.noCache); err != nil {
		return &exitError{ExitError, err}
	}
	rep := report.FromScan(res, Version)
	// What the malware databases skipped at load time belongs with the
	// scan's own warnings.
	rep.Warnings = append(cfg.Malware.Notes(), rep.Warnings...)
	if !f.sbomsOnly {
		if err := applyPolicy(rep, &f.vuln, stderr, f.quiet); err != nil {
			return &exitError{ExitError, err}
		}
	}
	if !f.quiet {
		for _, w := range rep.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	if err := writeReport(rep, f.format, f.output, stdout); err != nil {
		return &exitError{ExitError, err}
	}
	if scanErr != nil {
		return &exitError{ExitError, scanErr}
	}
	if !f.sbomsOnly && f.vuln.exitCode != 0 && len(rep.Findings) > 0 {
		return &exitError{f.vuln.exitCode, nil}
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
	out, err := os.Create(output)
	if err != nil {
		return err
	}
	if err := report.Write(out, format, rep); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func parseScanners(names []string, sbomOnly bool) (map[string]bool, error) {
	if sbomOnly {
		return map[string]bool{all.ScannerPackage: true}, nil
	}
	if len(names) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(strings.ToLower(n))
		if !contains(scannerNames(), n) {
			return nil, fmt.Errorf("--scanners: unknown scanner %q (one of %s)", n, strings.Join(scannerNames(), ", "))
		}
		set[n] = true
	}
	if set[all.ScannerVuln] || set[all.ScannerConfig] {
		set[all.ScannerPackage] = true // vulnerabilities and installed-server checks need the inventory
	}
	return set, nil
}

func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}

func progressPrinter(w io.Writer) func(scan.Event) {
	done := 0
	return func(e scan.Event) {
		if e.Done {
			done++
		}
		fmt.Fprintf(w, "\r\033[Kanalysing layers: %d/%d done", done, e.Total)
	}
}
