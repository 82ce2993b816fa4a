package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/source"
)

func newRegistryCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Audit a container registry, or scan every image in it"}
	cmd.AddCommand(newRegistryAuditCmd(stdout), newRegistryScanCmd(stdout, stderr))
	return cmd
}

// auditHelp says exactly what each probe sends (also in docs/registry-audit.md).
const auditHelp = `Audit a registry's security. Findings have class "registry".

URL is host[:port], optionally with https:// or http://. Every probe below is
read-only unless its flag is given; what each sends:

  tls              TLS handshakes only, to host:port (443 by default): one
                   normal, one limited to TLS 1.0-1.1, one offering only weak
                   cipher suites (CBC, static RSA, 3DES, RC4). The certificate is
                   checked for trust, self-signature, expiry (30 days' warning)
                   and host name.
  plaintext        GET http://host:port/v2/ (port 80 when URL has none).
  anonymous-api    GET /v2/ without credentials; when it asks for a bearer
                   token, GET <realm>?service=... without credentials, then
                   GET /v2/ with that anonymous token.
  anonymous-catalog  GET /v2/_catalog?n=100 (with an anonymous token for
                   registry:catalog:* when the realm hands one out).
  anonymous-tags, anonymous-pull  for up to 3 catalog repositories and each
                   --repo: GET /v2/REPO/tags/list?n=10 and HEAD
                   /v2/REPO/manifests/TAG (manifest only, no layer).
  info-leak        GET /debug/vars, /debug/pprof/, /metrics and
                   /api/v2.0/systeminfo (Harbor); Server and X-Powered-By
                   headers of every response are checked for versions.
  exposure         DNS lookup of the host: findings on a public address.
  push             only with --probe-push: PUT /v2/customs-audit-probe-RANDOM/
                   manifests/customs-audit-probe, Content-Type OCI manifest,
                   body "customs registry audit: push permission probe, not a
                   manifest" (not JSON), anonymously and with a default
                   credential --probe-credentials found. 401/403/405: push
                   refused; 400 MANIFEST_INVALID: push authorized (the body was
                   read, then rejected). Nothing is written: no upload, blob,
                   manifest, tag or repository.
  delete           only with --probe-delete: DELETE /v2/REPO/manifests/sha256:000...0
                   (a digest that cannot exist; REPO is the first catalog
                   repository or a throwaway name). 405 means deletes are off.
  default-credentials  only with --probe-credentials: GET /v2/ (basic) or the
                   token realm (bearer) with each built-in vendor default
                   (Harbor admin, Nexus admin, ...), one try per second,
                   stopping at the first that works; bearer realms are first
                   tried with random credentials, and skipped if they accept those.`

func newRegistryAuditCmd(stdout io.Writer) *cobra.Command {
	var opt registry.AuditOptions
	var format, output, caFile string
	var exitCode int
	cmd := &cobra.Command{
		Use:     "audit URL",
		Short:   "Audit a registry: plaintext, TLS, anonymous access, push, delete, default credentials, exposure",
		Long:    auditHelp,
		Example: "  customs registry audit https://registry.internal:5000\n  customs registry audit registry.internal --probe-push --probe-credentials --format json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return &exitError{ExitError, fmt.Errorf("--format %q: table or json", format)}
			}
			if caFile != "" {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return &exitError{ExitError, fmt.Errorf("--ca-file: %w", err)}
				}
				opt.RootCAs = x509.NewCertPool()
				if !opt.RootCAs.AppendCertsFromPEM(b) {
					return &exitError{ExitError, fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)}
				}
			}
			res, err := registry.Audit(cmd.Context(), args[0], opt)
			if err != nil {
				return &exitError{ExitError, err}
			}
			err = writeTo(output, stdout, func(w io.Writer) error {
				if format == "json" {
					e := json.NewEncoder(w)
					e.SetIndent("", "  ")
					return e.Encode(res)
				}
				return writeFindingsTable(w, "Registry "+res.Host+" (API "+res.API+")", res.Findings)
			})
			if err != nil {
				return &exitError{ExitError, err}
			}
			if exitCode != 0 && len(res.Findings) > 0 {
				return &exitError{exitCode, nil}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opt.ProbePush, "probe-push", false, "ask to put an unparsable manifest in a throwaway repository (the registry stores nothing)")
	fl.BoolVar(&opt.ProbeDelete, "probe-delete", false, "ask to delete a manifest digest that cannot exist")
	fl.BoolVar(&opt.ProbeCredentials, "probe-credentials", false, "try the built-in vendor default credentials, one per second")
	fl.StringSliceVar(&opt.Repositories, "repo", nil, "repositories to probe for anonymous pull (besides the catalog's)")
	fl.StringVar(&caFile, "ca-file", "", "PEM authorities the registry certificate should chain to (default: the system's)")
	fl.DurationVar(&opt.Timeout, "timeout", 10*time.Second, "timeout of each request")
	fl.StringVarP(&format, "format", "f", "table", "report format: table, json")
	fl.StringVarP(&output, "output", "o", "", "write the report to this file instead of standard output")
	fl.IntVar(&exitCode, "exit-code", 0, "exit with this code when there are findings")
	return cmd
}

type registryScanFlags struct {
	cfg      pipeline.Config
	opt      registry.ScanOptions
	format   string
	output   string
	quiet    bool
	gate     gateFlags
	analysis analysisFlags
}

func newRegistryScanCmd(stdout, stderr io.Writer) *cobra.Command {
	f := &registryScanFlags{}
	cmd := &cobra.Command{
		Use:   "scan URL",
		Short: "Scan every image of a registry (or the repositories and tags selected)",
		Long: `Enumerate the registry's catalog (or --repo), the tags of each repository
(--tags, --latest), resolve each tag to a digest and scan every distinct image
once, a few at a time, sharing the layer cache: a base layer shared by many
images is analysed once. Each image goes through the same pipeline as
` + "`customs image`" + `: the same scanners, vulnerability data, policy (--severity,
--ignore-unfixed, --ignorefile, --vex), malware sources and signature checks.
Failures of single images are reported and the scan goes on. One aggregated
report: per-image summary by class and severity, and all findings. Rerunning
skips images already scanned with the same database, analyzers and policy.
Tag drift is recorded in the cache directory.

Exit codes: 2 when an image could not be scanned, or (with --exit-code) when
an image's vulnerability data was missing; N (--exit-code) when findings
remain.`,
		Example: "  customs registry scan registry.internal:5000 --repo 'team/*' --latest 3 --format json -o report.json\n" +
			"  customs registry scan registry.internal --severity HIGH,CRITICAL --exit-code 1 --verify-signature --cosign-key cosign.pub",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.analysis.apply(&f.cfg); err != nil {
				return &exitError{ExitError, err}
			}
			return runRegistryScan(cmd.Context(), args[0], f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	registerAuthFlags(fl, &f.cfg.Source)
	fl.StringSliceVar(&f.opt.Repos, "repo", nil, "repositories to scan, glob patterns (default: the whole catalog)")
	fl.StringSliceVar(&f.opt.Tags, "tags", nil, "tags to scan, glob patterns (default: all)")
	fl.IntVar(&f.opt.Latest, "latest", 0, "scan only the N highest tags of each repository in version order")
	fl.IntVar(&f.opt.Parallel, "parallel", 2, "images scanned at once")
	fl.DurationVar(&f.cfg.Timeout, "timeout", 30*time.Minute, "give up one image's scan after this long (the registry scan goes on)")
	registerEngineFlags(fl, &f.cfg)
	registerPullFlags(fl, &f.cfg.Pull)
	f.analysis.register(fl, &f.cfg)
	registerVulnFlags(fl, &f.cfg, &f.gate)
	fl.StringVarP(&f.format, "format", "f", "table", "report format: table, json")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on standard error")
	return cmd
}

func runRegistryScan(ctx context.Context, addr string, f *registryScanFlags, stdout, stderr io.Writer) error {
	if f.format != "table" && f.format != "json" {
		return &exitError{ExitError, fmt.Errorf("--format %q: table or json", f.format)}
	}
	if err := checkOutput(f.output); err != nil {
		return &exitError{ExitError, err}
	}
	if f.opt.Latest < 0 || f.opt.Parallel < 0 {
		return &exitError{ExitError, fmt.Errorf("--latest and --parallel must not be negative")}
	}
	cfg := f.cfg
	cfg.Source.Source = source.KindRegistry
	cfg.Version = Version
	cfg.Parallel = 1 // images run in parallel; their layers one at a time
	p, err := pipeline.New(ctx, cfg)
	if err != nil {
		return &exitError{ExitError, err}
	}
	defer p.Close()
	if !f.quiet {
		f.opt.Progress = stderr
	}
	rep, err := p.ScanRegistry(ctx, addr, f.opt)
	if err != nil {
		return &exitError{ExitError, err}
	}
	err = writeTo(f.output, stdout, func(w io.Writer) error {
		if f.format == "json" {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(rep)
		}
		return writeScanTable(w, rep)
	})
	if err != nil {
		return &exitError{ExitError, err}
	}
	code, err := f.gate.gate().DecideRegistry(rep)
	if err != nil {
		return &exitError{ExitError, err}
	}
	if code != 0 {
		return &exitError{code, nil}
	}
	return nil
}

func writeTo(output string, stdout io.Writer, fn func(io.Writer) error) error {
	if output == "" {
		return fn(stdout)
	}
	out, err := os.Create(output)
	if err != nil {
		return err
	}
	if err := fn(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeFindingsTable(w io.Writer, title string, fs []model.Finding) error {
	fmt.Fprintln(w, title)
	if len(fs) == 0 {
		fmt.Fprintln(w, "no findings")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tID\tTITLE\tWHERE")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, f.ID, f.Title, f.Location)
	}
	return tw.Flush()
}

func writeScanTable(w io.Writer, rep *registry.ScanReport) error {
	st := rep.Stats
	fmt.Fprintf(w, "Registry %s: %d repositories, %d tags, %d images (%d scanned, %d already scanned, %d failed); layers analysed %d, from cache %d\n\n",
		rep.Registry, st.Repositories, st.Tags, st.Images, st.Scanned, st.Resumed, st.Failed, st.LayersWalked, st.LayersCached)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tDIGEST\tCRITICAL\tHIGH\tMEDIUM\tLOW\tCLASSES\tSTATUS")
	for _, im := range rep.Images {
		sev := map[string]int{}
		var classes []string
		for c, m := range im.Summary {
			n := 0
			for s, k := range m {
				sev[s] += k
				n += k
			}
			classes = append(classes, fmt.Sprintf("%s:%d", c, n))
		}
		sort.Strings(classes)
		status := "ok"
		switch {
		case im.Error != "":
			status = "FAILED: " + im.Error
		case im.Resumed:
			status = "from earlier run"
		}
		if len(im.Missing) > 0 {
			status += "; VULNERABILITY DATA MISSING: " + strings.Join(im.Missing, "; ")
		}
		d := im.Digest
		if len(d) > 19 {
			d = d[:19]
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", strings.Join(im.Refs, ","), d,
			sev["CRITICAL"], sev["HIGH"], sev["MEDIUM"], sev["LOW"], strings.Join(classes, " "), status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(w, "error:", e)
	}
	fmt.Fprintln(w)
	return writeFindingsTable(w, "Findings", rep.Findings)
}
