// Package pipeline is the one way customs scans an image: open the source,
// run the layer engine with the selected analyzers, match vulnerabilities,
// check pull integrity, build the report and apply the policy. The command
// line (`customs image`, `customs sbom`, `customs registry scan`) and the
// server call it; no other package wires these stages together.
//
// New loads what every scan shares (analyzers, malware databases, the
// vulnerability database, ignore and VEX files, the layer cache) and
// validates the configuration before any image is opened; Scan then runs
// one image at a time, safely from several goroutines.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/analyzer/malware"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/policy"
	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/signature"
	"github.com/customs-scanner/customs/internal/source"
)

// Config is everything a scan needs besides the image reference. The zero
// value scans with every scanner, no cache and no vulnerability database.
type Config struct {
	// Source holds the options for opening images (credentials, TLS,
	// engine addresses, platform); each scan works on its own copy.
	Source source.Options
	// Scanners names the scanners to run (all.Scanner*); empty means all.
	// Selecting vuln or config also selects package.
	Scanners []string
	// SBOMOnly inventories packages only: no findings, no matching, no
	// policy (customs sbom).
	SBOMOnly bool
	// Analyzers configures the analyzers (checks to skip, secret rules,
	// password guessing...); its Scanners and Malware fields are set by New.
	Analyzers all.Config
	// Malware names the detection sources besides the built-in rules.
	Malware malware.Sources
	// Limits bound what is read from each layer; zero fields take defaults.
	Limits layer.Limits
	// Parallel bounds the layers analysed at once (default: CPUs).
	Parallel int
	// CacheDir holds the layer cache and the tag history; "" or NoCache
	// disables both.
	CacheDir string
	NoCache  bool
	// CacheMaxMB is the size in MiB the layer cache is kept to: Close
	// prunes it once a day, and PruneCache whenever it is called (0: no
	// bound).
	CacheMaxMB int64
	// SharedCache, when set, is a layer cache other workers share (a
	// server's database, see internal/store), kept behind the local one:
	// layer results are looked up there after the local cache and written
	// to both, and a layer not yet cached is claimed before it is
	// analysed, so no two workers analyse the same layer.
	SharedCache cache.Shared
	// Worker names this process in its claims on SharedCache.
	Worker string
	// SharedLease is how long a claim on SharedCache outlives its last
	// renewal (0: the cache's default): how long a layer whose worker died
	// keeps others waiting.
	SharedLease time.Duration
	// Timeout bounds one image's scan (0: none).
	Timeout time.Duration
	// Vuln configures vulnerability matching.
	Vuln VulnConfig
	// Pull configures pull-integrity checks.
	Pull PullConfig
	// Policy configures which findings the report keeps.
	Policy PolicyConfig
	// Version is the customs version written in reports.
	Version string
	// Progress, when set, is told about each layer of each scan, one
	// event at a time.
	Progress func(scan.Event)
}

// PullConfig configures the pull-integrity checks.
type PullConfig struct {
	// RequireDigest refuses registry references without a digest.
	RequireDigest bool
	// VerifySignature requires a valid cosign signature; an image that
	// cannot be verified (no registry digest) gets a finding too.
	VerifySignature bool
	// Signature holds the key or keyless identity to verify against.
	Signature signature.Options
}

// PolicyConfig selects the findings a report keeps.
type PolicyConfig struct {
	// Severities keeps only these severities (CRITICAL, HIGH, ...).
	Severities []string
	// IgnoreUnfixed leaves out vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// IgnoreFile is an ignore file (required when set); "" reads
	// policy.DefaultIgnoreFile when it exists.
	IgnoreFile string
	// VEX is an OpenVEX document.
	VEX string
}

// Pipeline scans images with one configuration. It is safe for
// concurrent use.
type Pipeline struct {
	cfg      Config
	scanners map[string]bool
	layers   []analyzer.Analyzer
	images   []analyzer.ImageAnalyzer
	malware  malware.Options
	cache    *cache.Dir
	shared   *cache.Tier
	drift    *registry.DriftStore
	policy   policy.Policy

	// vulnMu guards vuln, which ReloadVuln replaces, and the use counts
	// of the sources.
	vulnMu sync.Mutex
	vuln   *vulnSource
}

// New validates cfg and loads what every scan shares. Nothing is opened
// when a setting is wrong.
func New(ctx context.Context, cfg Config) (*Pipeline, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg}
	var err error
	if p.scanners, err = ParseScanners(cfg.Scanners, cfg.SBOMOnly); err != nil {
		return nil, err
	}
	if !cfg.SBOMOnly {
		if p.policy, err = loadPolicy(cfg.Policy); err != nil {
			return nil, err
		}
	}
	if !cfg.NoCache && cfg.CacheDir != "" {
		if p.cache, err = cache.Open(cfg.CacheDir); err != nil {
			return nil, err
		}
		if p.drift, err = registry.OpenDriftStore(filepath.Join(cfg.CacheDir, "registry.db")); err != nil {
			return nil, err
		}
	}
	if cfg.SharedCache != nil {
		p.shared = cache.NewTier(p.cache, cfg.SharedCache, cfg.Worker)
		if cfg.SharedLease > 0 {
			p.shared.Lease = cfg.SharedLease
		}
	}
	ac := cfg.Analyzers
	ac.Scanners = p.scanners
	if p.cache != nil && ac.PasswordMemoDir == "" {
		ac.PasswordMemoDir = filepath.Join(cfg.CacheDir, "passwords")
	}
	if p.wants(all.ScannerMalware) && !cfg.SBOMOnly {
		if ac.Malware, err = malware.Open(ctx, cfg.Malware); err != nil {
			return nil, err
		}
	}
	p.malware = ac.Malware
	if p.layers, err = all.Layer(ac); err != nil {
		return nil, err
	}
	if p.images, err = all.Image(ac); err != nil {
		return nil, err
	}
	if p.wants(all.ScannerVuln) && !cfg.SBOMOnly {
		if p.vuln, err = openVuln(ctx, cfg.Vuln); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// validate checks the settings that need no I/O, so a typo fails before
// any image is opened.
func validate(cfg *Config) error {
	switch {
	case cfg.Limits.MaxFileBytes < 0:
		return errors.New("--max-file-size must not be negative")
	case cfg.Limits.MaxLayerBytes < 0:
		return errors.New("--max-layer-size must not be negative")
	case cfg.Limits.MaxEntries < 0:
		return errors.New("--max-entries must not be negative")
	case cfg.Parallel < 0:
		return errors.New("--parallel must not be negative")
	case cfg.Timeout < 0:
		return fmt.Errorf("--timeout %s must not be negative", cfg.Timeout)
	case cfg.Vuln.MaxAge < 0:
		return fmt.Errorf("--db-max-age %s must not be negative", cfg.Vuln.MaxAge)
	}
	if _, err := policy.ParseSeverities(cfg.Policy.Severities); err != nil {
		return fmt.Errorf("--severity: %w", err)
	}
	return nil
}

// ParseScanners turns --scanners names into the set the analyzers take
// (nil: all). Vulnerability matching and configuration checks need the
// package inventory, so they select it too.
func ParseScanners(names []string, sbomOnly bool) (map[string]bool, error) {
	if sbomOnly {
		return map[string]bool{all.ScannerPackage: true}, nil
	}
	if len(names) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(strings.ToLower(n))
		if !contains(ScannerNames(), n) {
			return nil, fmt.Errorf("--scanners: unknown scanner %q (one of %s)", n, strings.Join(ScannerNames(), ", "))
		}
		set[n] = true
	}
	if set[all.ScannerVuln] || set[all.ScannerConfig] {
		set[all.ScannerPackage] = true
	}
	return set, nil
}

// ScannerNames lists the names --scanners accepts.
func ScannerNames() []string {
	return []string{all.ScannerPackage, all.ScannerVuln, all.ScannerSecret, all.ScannerMalware, all.ScannerConfig}
}

func (p *Pipeline) wants(scanner string) bool {
	return len(p.scanners) == 0 || p.scanners[scanner]
}

// Close prunes the layer cache when a day has passed since it last was
// (see Config.CacheMaxMB) and releases the shared resources.
func (p *Pipeline) Close() error {
	var errs []error
	if p.cache != nil && p.cfg.CacheMaxMB > 0 {
		_, _, err := p.cache.PruneDue(p.cfg.CacheMaxMB<<20, 24*time.Hour)
		errs = append(errs, err)
	}
	errs = append(errs, p.swapVuln(nil))
	if p.drift != nil {
		errs = append(errs, p.drift.Close())
	}
	return errors.Join(errs...)
}

// PruneCache removes the least recently used results beyond
// Config.CacheMaxMB from the layer cache, and returns how many results and
// bytes it removed.
func (p *Pipeline) PruneCache() (int, int64, error) {
	if p.cache == nil || p.cfg.CacheMaxMB <= 0 {
		return 0, 0, nil
	}
	return p.cache.Prune(p.cfg.CacheMaxMB << 20)
}

// Scan scans the image input names. It returns the report with an error
// when the scan ran but could not read every layer (the report then
// holds the archive or integrity finding saying why), and no report when
// the image could not be opened or scanned at all.
func (p *Pipeline) Scan(ctx context.Context, input string) (*report.Report, error) {
	rep, _, err := p.scan(ctx, input, p.cfg.Source)
	return rep, err
}

// LayerStats counts where a scan's layer results came from: the cache, or
// a walk of the layer.
type LayerStats struct{ Cached, Walked int }

// ScanWith is Scan with source options of its own (a registry's
// credentials, plain HTTP, a local engine's address) in place of the
// configured ones, and says where the layer results came from. A server
// scanning for many registries and hosts shares one Pipeline this way.
func (p *Pipeline) ScanWith(ctx context.Context, input string, src source.Options) (*report.Report, LayerStats, error) {
	return p.scan(ctx, input, src)
}

// SourceOptions returns the configured source options, for callers of
// ScanWith to start from.
func (p *Pipeline) SourceOptions() source.Options { return p.cfg.Source }

func (p *Pipeline) scan(ctx context.Context, input string, src source.Options) (*report.Report, LayerStats, error) {
	var st LayerStats
	if p.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.Timeout)
		defer cancel()
	}
	if p.cfg.Pull.RequireDigest {
		if err := registry.RequireDigest(input, src.NameOptions()...); err != nil {
			return nil, st, err
		}
	}
	img, err := source.Open(ctx, input, &src)
	if err != nil {
		return nil, st, err
	}
	defer img.Close()
	meta := img.Meta()
	vuln := p.useVuln()
	defer p.doneVuln(vuln)
	key := p.imageKey(ctx, meta, vuln)
	var rep report.Report
	var scanErr error
	if key != "" && p.cache.GetImage(key, &rep) {
		// The same image with the same data and settings: the report of
		// the last scan, under this scan's name and time.
		st.Cached = len(meta.Layers)
		rep.CreatedAt = time.Now().UTC().Truncate(time.Second)
		rep.Artifact.Input, rep.Artifact.Name, rep.Tool.Version = meta.Input, meta.Name, p.cfg.Version
	} else {
		var r *report.Report
		if r, st, scanErr = p.analyse(ctx, img, vuln); r == nil {
			return nil, st, scanErr
		}
		rep = *r
		if key != "" && scanErr == nil && !rep.Incomplete {
			_ = p.cache.PutImage(key, &rep) // a report not stored only costs a rescan
		}
	}
	fs, err := p.pullChecks(ctx, meta, &src)
	if err != nil {
		return nil, st, err
	}
	rep.Findings = append(rep.Findings, fs...)
	rep.Summarize()
	if !p.cfg.SBOMOnly {
		p.applyPolicy(&rep)
	}
	return &rep, st, scanErr
}

// analyse runs the layer engine and matching against vuln (nil: none)
// over img.
func (p *Pipeline) analyse(ctx context.Context, img source.Image, vuln *vulnSource) (*report.Report, LayerStats, error) {
	res, scanErr := scan.Run(ctx, img, scan.Options{
		Analyzers:      p.layers,
		ImageAnalyzers: p.images,
		Limits:         p.cfg.Limits,
		Cache:          p.cache,
		Shared:         p.shared,
		Parallel:       p.cfg.Parallel,
		Progress:       p.cfg.Progress,
	})
	if res == nil {
		return nil, LayerStats{}, scanErr
	}
	st := LayerStats{Cached: res.LayersCached, Walked: res.LayersWalked}
	cov := report.Coverage{Vulnerabilities: report.CoverageNotSelected}
	if vuln != nil {
		if err := vuln.match(ctx, res, &cov); err != nil {
			return nil, st, err
		}
	}
	rep := fromScan(res, p.cfg.Version)
	rep.Coverage = &cov
	// What the malware databases skipped at load time belongs with the
	// scan's own warnings.
	rep.Warnings = append(p.malware.Notes(), rep.Warnings...)
	return rep, st, scanErr
}

// imageKey names the stored report of an image: its digest and layers,
// the database, analyzers, policy and signature settings (stateVersion),
// the image-level settings, and the day (image age and end-of-life
// checks depend on it). It is "" when the image cannot be named exactly
// (a root filesystem) or there is no cache.
func (p *Pipeline) imageKey(ctx context.Context, m *source.Meta, vuln *vulnSource) string {
	if p.cache == nil || m.Digest == "" {
		return ""
	}
	v, err := p.stateVersion(ctx, vuln)
	if err != nil {
		return ""
	}
	h := sha256.New()
	a := p.cfg.Analyzers
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%s\n%t\n%v\n%v\n%d\n%t\n%s\n%s\n", v, time.Now().UTC().Format(time.DateOnly),
		m.Kind, m.Digest, m.IndexDigest, p.cfg.SBOMOnly, p.scanners, a.SkipChecks, a.MaxImageAgeDays, a.ShowSecrets, a.SecretConfig, a.PasswordGuessing)
	for _, l := range m.Layers {
		if l.DiffID == "" {
			return ""
		}
		fmt.Fprintln(h, l.DiffID)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fromScan builds a report from a scan result.
func fromScan(res *scan.Result, version string) *report.Report {
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "customs", Version: version},
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		Artifact: report.Artifact{
			Input:  res.Meta.Input,
			Source: res.Meta.Kind,
			Name:   res.Meta.Name,
			Digest: res.Meta.Digest,
			OS:     res.OS,
			Layers: res.Layers,
		},
		Packages: res.Packages,
		Findings: res.Findings,
		Warnings: res.Warnings,
		Dropped:  res.Dropped,
		// A scan cut short shows in its warnings and fails a gate.
		Incomplete: res.Incomplete,
	}
	if c := res.Meta.Config; c != nil {
		r.Artifact.Architecture = c.Architecture
	}
	r.Summarize()
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Database describes the vulnerability database scans match against (nil
// when vulnerability scanning is off or there is none).
func (p *Pipeline) Database() *report.Database {
	if p.vuln == nil {
		return nil
	}
	return p.vuln.info
}
