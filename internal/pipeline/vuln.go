package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/customs-scanner/customs/internal/match"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// StaleAfter is the database age past which a scan warns that it is stale.
const StaleAfter = 3 * 24 * time.Hour

// VulnConfig configures vulnerability matching.
type VulnConfig struct {
	// DBDir is the database directory; vulndb.SampleName uses the bundled
	// sample.
	DBDir string
	// MaxAge refuses a database older than this (0: only warn after
	// StaleAfter).
	MaxAge time.Duration
	// MatchOSOwned also matches language packages that an OS package
	// installed against their language ecosystem's advisories; by
	// default the distribution's advisories cover them.
	MatchOSOwned bool
	// AllowMissingData lets a gate pass on the data there is: a missing,
	// empty or too old database, or ecosystems without advisories, become
	// warnings instead of failing the scan or the gate.
	AllowMissingData bool
}

// vulnSource is the opened database, or why there is none.
type vulnSource struct {
	db *vulndb.DB
	// matchOSOwned is VulnConfig.MatchOSOwned.
	matchOSOwned bool
	// info describes the database for the report's coverage.
	info *report.Database
	// missing says why matching could not be trusted ("" when it can).
	missing string
	// warning is a note for every report (a stale database).
	warning string
	// generation is the database's generation (see vulndb.DB.Generation).
	generation int64

	// refs counts the scans using the source and retired says it was
	// replaced or the pipeline closed: the last user closes it. Both are
	// guarded by Pipeline.vulnMu.
	refs    int
	retired bool
}

// openVuln opens the database cfg names. A missing or empty database is
// not an error: every report then says so in its coverage, and a gate
// fails on it. A database older than MaxAge is an error unless
// AllowMissingData.
func openVuln(ctx context.Context, cfg VulnConfig) (*vulnSource, error) {
	if cfg.DBDir == vulndb.SampleName {
		db, err := vulndb.OpenSample(ctx)
		if err != nil {
			return nil, err
		}
		// The sample is dated by its records, not by a download: it is
		// never stale.
		return describe(ctx, db, "the bundled sample", cfg, false)
	}
	db, err := vulndb.Open(cfg.DBDir)
	if errors.Is(err, vulndb.ErrNoDatabase) {
		return &vulnSource{missing: fmt.Sprintf("no vulnerability database in %s: run `customs db update` (offline: `customs db import FILE`), or pass --db-dir %s for the bundled sample", cfg.DBDir, vulndb.SampleName)}, nil
	}
	if err != nil {
		return nil, err
	}
	return describe(ctx, db, cfg.DBDir, cfg, true)
}

// describe reads db's status into a vulnSource; aged says whether its age
// counts (against MaxAge and StaleAfter).
func describe(ctx context.Context, db *vulndb.DB, where string, cfg VulnConfig, aged bool) (*vulnSource, error) {
	st, err := db.Status(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	v := &vulnSource{db: db, info: &report.Database{Path: db.Path(), Records: st.Records}, matchOSOwned: cfg.MatchOSOwned, generation: st.Generation}
	if st.Records == 0 {
		v.missing = fmt.Sprintf("the vulnerability database in %s holds no records: run `customs db update`", where)
		return v, nil
	}
	oldest := st.Oldest()
	v.info.Updated = oldest.UTC()
	age := time.Since(oldest)
	switch {
	case !aged:
	case cfg.MaxAge > 0 && age > cfg.MaxAge:
		msg := fmt.Sprintf("the vulnerability database in %s is %s old, more than --db-max-age %s: run `customs db update`", where, age.Round(time.Hour), cfg.MaxAge)
		if !cfg.AllowMissingData {
			db.Close()
			return nil, errors.New(msg)
		}
		v.missing = msg
	case age > StaleAfter:
		v.warning = fmt.Sprintf("the vulnerability database is %s old: run `customs db update`", age.Round(time.Hour))
	}
	return v, nil
}

func (v *vulnSource) close() error {
	if v.db == nil {
		return nil
	}
	return v.db.Close()
}

// useVuln returns the vulnerability source for one scan (nil when
// matching is off), to give back with doneVuln: a source replaced by
// ReloadVuln stays open until its last scan is done.
func (p *Pipeline) useVuln() *vulnSource {
	p.vulnMu.Lock()
	defer p.vulnMu.Unlock()
	if p.vuln != nil {
		p.vuln.refs++
	}
	return p.vuln
}

// doneVuln gives back a source useVuln returned.
func (p *Pipeline) doneVuln(v *vulnSource) {
	if v == nil {
		return
	}
	p.vulnMu.Lock()
	v.refs--
	last := v.retired && v.refs == 0
	p.vulnMu.Unlock()
	if last {
		_ = v.close() // read-only: nothing is lost
	}
}

// swapVuln makes v the source of later scans and retires the one it
// replaces, closing it now when no scan uses it.
func (p *Pipeline) swapVuln(v *vulnSource) error {
	p.vulnMu.Lock()
	old := p.vuln
	p.vuln = v
	last := false
	if old != nil {
		old.retired = true
		last = old.refs == 0
	}
	p.vulnMu.Unlock()
	if last {
		return old.close()
	}
	return nil
}

// ReloadVuln switches vulnerability matching to the database in dir
// (vulndb.FileName, as `customs db update` or a store's FetchVulnDB
// leaves it) under the pipeline's other VulnConfig settings. Scans that
// started before keep the database they started with, which is closed
// when the last of them ends; later scans match against the new one.
// When dir holds no usable database, or matching is off (the vuln
// scanner not selected), nothing changes and an error says why.
func (p *Pipeline) ReloadVuln(ctx context.Context, dir string) error {
	p.vulnMu.Lock()
	off := p.vuln == nil
	p.vulnMu.Unlock()
	if off {
		return errors.New("vulnerability matching is off in this pipeline")
	}
	cfg := p.cfg.Vuln
	cfg.DBDir = dir
	v, err := openVuln(ctx, cfg)
	if err != nil {
		return err
	}
	if v.db == nil {
		return errors.New(v.missing)
	}
	return p.swapVuln(v)
}

// VulnGeneration returns the generation of the vulnerability database
// later scans match against (0 when there is none, or matching is off).
func (p *Pipeline) VulnGeneration() int64 {
	p.vulnMu.Lock()
	defer p.vulnMu.Unlock()
	if p.vuln == nil {
		return 0
	}
	return p.vuln.generation
}

// match adds vulnerability and malicious-package findings to res and
// fills cov with what data there was for each ecosystem of the inventory.
func (v *vulnSource) match(ctx context.Context, res *scan.Result, cov *report.Coverage) error {
	cov.Vulnerabilities = report.CoverageMatched
	cov.Database = v.info
	if v.warning != "" {
		res.Warnings = append(res.Warnings, v.warning)
	}
	if v.missing != "" {
		cov.Missing = append(cov.Missing, v.missing)
	}
	if v.db == nil {
		cov.Vulnerabilities = report.CoverageNoData
		return nil
	}
	pkgs, osOwned := v.matchable(res.Packages)
	m, err := match.Run(ctx, v.db, res.OS, pkgs)
	if err != nil {
		return fmt.Errorf("vulnerability matching: %w", err)
	}
	res.Findings = append(res.Findings, m.Findings...)
	res.Warnings = append(res.Warnings, m.Warnings...)
	cov.Ecosystems = append(m.Coverage, osOwned...)
	for _, e := range m.Coverage {
		if !e.Usable() {
			why := e.Reason
			if why == "" {
				why = "no advisory data"
			}
			cov.Missing = append(cov.Missing, fmt.Sprintf("%s (%d packages): %s", e.Ecosystem, e.Packages, why))
		}
	}
	return nil
}

// matchable returns the packages to match and, for the language packages
// an OS package installed (left to the distribution's advisories unless
// MatchOSOwned), one coverage row per type saying so.
func (v *vulnSource) matchable(pkgs []model.Package) ([]model.Package, []model.EcosystemCoverage) {
	if v.matchOSOwned {
		return pkgs, nil
	}
	out := make([]model.Package, 0, len(pkgs))
	skipped := map[string]int{}
	var types []string
	for _, p := range pkgs {
		if !p.OSOwned {
			out = append(out, p)
			continue
		}
		if skipped[p.Type] == 0 {
			types = append(types, p.Type)
		}
		skipped[p.Type]++
	}
	var rows []model.EcosystemCoverage
	for _, t := range types {
		rows = append(rows, model.EcosystemCoverage{Ecosystem: t + " (installed by OS packages)", Packages: skipped[t], Status: model.CoverageOK,
			Reason: "matched through the distribution's advisories of the OS packages that installed them; --match-os-owned matches them as " + t + " packages too"})
	}
	return out, rows
}
