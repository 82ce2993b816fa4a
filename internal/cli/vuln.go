package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/match"
	"github.com/customs-scanner/customs/internal/policy"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// dbWarnAge is the age past which a scan warns that the database is stale.
const dbWarnAge = 3 * 24 * time.Hour

// vulnFlags are the vulnerability and policy flags of `customs image`.
type vulnFlags struct {
	dbDir         string
	dbMaxAge      time.Duration
	severity      []string
	ignoreUnfixed bool
	exitCode      int
	ignoreFile    string
	vex           string
}

func defaultDBDir() string { return filepath.Join(cache.DefaultDir(), "db") }

func (v *vulnFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&v.dbDir, "db-dir", defaultDBDir(), "vulnerability database directory ("+vulndb.SampleName+" uses the small bundled sample)")
	fl.DurationVar(&v.dbMaxAge, "db-max-age", 0, "fail when the vulnerability database is older than this (0: only warn after 3 days)")
	fl.StringSliceVar(&v.severity, "severity", nil, "report only findings of these severities, of every class (vulnerabilities, malware, secrets, configuration...): CRITICAL,HIGH,MEDIUM,LOW,UNKNOWN")
	fl.BoolVar(&v.ignoreUnfixed, "ignore-unfixed", false, "leave out vulnerabilities that have no fixed version")
	fl.IntVar(&v.exitCode, "exit-code", 0, "exit with this code when findings remain after the filters")
	fl.StringVar(&v.ignoreFile, "ignorefile", "", "ignore file (YAML; default "+policy.DefaultIgnoreFile+" when it exists)")
	fl.StringVar(&v.vex, "vex", "", "OpenVEX document: not_affected and fixed statements suppress findings")
}

// openVulnDB opens the database the flags name. It returns nil and a
// warning when there is none.
func openVulnDB(ctx context.Context, v *vulnFlags) (*vulndb.DB, string, error) {
	if v.dbDir == vulndb.SampleName {
		db, err := vulndb.OpenSample(ctx)
		return db, "", err
	}
	db, err := vulndb.Open(v.dbDir)
	if errors.Is(err, vulndb.ErrNoDatabase) {
		return nil, fmt.Sprintf("vulnerability matching skipped: no vulnerability database in %s; run `customs db update` (or, offline, `customs db import FILE` with an export from `customs db export`), or use --db-dir %s for the bundled sample", v.dbDir, vulndb.SampleName), nil
	}
	if err != nil {
		return nil, "", err
	}
	st, err := db.Status(ctx)
	if err != nil {
		db.Close()
		return nil, "", err
	}
	age := time.Since(st.Oldest())
	if v.dbMaxAge > 0 && age > v.dbMaxAge {
		db.Close()
		return nil, "", fmt.Errorf("vulnerability database in %s is %s old, more than --db-max-age %s: run `customs db update`", v.dbDir, age.Round(time.Hour), v.dbMaxAge)
	}
	warn := ""
	if age > dbWarnAge {
		warn = fmt.Sprintf("vulnerability database is %s old: run `customs db update`", age.Round(time.Hour))
	}
	return db, warn, nil
}

// matchVulns adds vulnerability and malicious-package findings to res when
// the vuln scanner is selected.
func matchVulns(ctx context.Context, res *scan.Result, v *vulnFlags, scanners map[string]bool) error {
	if len(scanners) > 0 && !scanners[all.ScannerVuln] {
		return nil
	}
	db, warn, err := openVulnDB(ctx, v)
	if err != nil {
		return err
	}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	if db == nil {
		return nil
	}
	defer db.Close()
	fs, err := match.Match(ctx, db, res.OS, res.Packages)
	if err != nil {
		return fmt.Errorf("vulnerability matching: %w", err)
	}
	res.Findings = append(res.Findings, fs...)
	return nil
}

// applyPolicy filters the report's findings with the policy flags.
func applyPolicy(rep *report.Report, v *vulnFlags, stderr io.Writer, quiet bool) error {
	sev, err := policy.ParseSeverities(v.severity)
	if err != nil {
		return fmt.Errorf("--severity: %w", err)
	}
	p := &policy.Policy{Severities: sev, IgnoreUnfixed: v.ignoreUnfixed,
		Image: []string{rep.Artifact.Input, rep.Artifact.Name, rep.Artifact.Digest}}
	name, required := v.ignoreFile, true
	if name == "" {
		name, required = policy.DefaultIgnoreFile, false
	}
	if p.Ignore, err = policy.LoadIgnoreFile(name, required); err != nil {
		return fmt.Errorf("--ignorefile: %w", err)
	}
	if v.vex != "" {
		if p.VEX, err = policy.LoadVEX(v.vex); err != nil {
			return fmt.Errorf("--vex: %w", err)
		}
	}
	kept, suppressed := p.Apply(rep.Findings)
	rep.Findings = kept
	rep.Summarize()
	if !quiet && len(suppressed) > 0 && (len(p.Ignore) > 0 || len(p.VEX) > 0) {
		fmt.Fprintf(stderr, "%d findings suppressed by the ignore file, VEX or filters\n", len(suppressed))
	}
	return nil
}
