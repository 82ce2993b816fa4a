// Package match turns an image's package inventory into vulnerability and
// malicious-package findings, using OSV records from the vulnerability
// database. Matching is exact: each package is looked up under its own
// ecosystem (distribution advisories by source package and release), and
// versions are compared with that ecosystem's rules.
package match

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/osv-scalibr/semantic"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// Source reads OSV data; *vulndb.DB implements it.
type Source interface {
	// Candidates returns the affected entries of records for the named
	// packages of one ecosystem base, in one query.
	Candidates(ctx context.Context, base string, names []string) ([]vulndb.Candidate, error)
	// Records reads whole records, in one query.
	Records(ctx context.Context, keys []vulndb.Key) (map[vulndb.Key]*vulndb.Record, error)
	// ByID returns the records known by each of ids (as their id, an
	// alias or an upstream id), also those that name no package (CVE
	// records kept for their severity), in one query.
	ByID(ctx context.Context, ids []string) (map[string][]*vulndb.Record, error)
	// Ecosystems summarizes the records held per exact ecosystem.
	Ecosystems(ctx context.Context) ([]vulndb.EcosystemInfo, error)
}

// maxDescription bounds the description copied from a record.
const maxDescription = 2000

// Result is what matching an inventory gives: the findings, one coverage
// row per ecosystem of the inventory (every package is counted in exactly
// one), and one warning line per ecosystem that was not fully matched.
type Result struct {
	Findings []model.Finding
	Coverage []model.EcosystemCoverage
	Warnings []string
}

// Match returns the findings of Run.
//
// Deprecated: use Run, which also says what could not be matched.
func Match(ctx context.Context, src Source, os *model.OS, pkgs []model.Package) ([]model.Finding, error) {
	r, err := Run(ctx, src, os, pkgs)
	if err != nil {
		return nil, err
	}
	return r.Findings, nil
}

// Run matches pkgs of an image running os (nil when unknown: OS packages
// are then not matched, and counted as such). It queries the candidates of
// all packages of an ecosystem at once, compares versions against the
// candidates' ranges, and reads the whole records only of those that
// affect a package; records without a CVSS vector of their own get it from
// an aliased record of the database. Packages that cannot be matched
// (unknown distribution, no version, a version that does not parse) and
// ranges that cannot be evaluated are counted per ecosystem in the
// coverage and named in the warnings, never dropped silently.
func Run(ctx context.Context, src Source, os *model.OS, pkgs []model.Package) (*Result, error) {
	plans := make([]plan, len(pkgs))
	rows := map[string]*row{}
	names := map[string]map[string]bool{} // base -> normalized names
	for i := range pkgs {
		pl := planFor(&pkgs[i], os)
		r := rows[pl.row]
		if r == nil {
			r = &row{cov: model.EcosystemCoverage{Ecosystem: pl.row}, t: pl.t, why: pl.why}
			rows[pl.row] = r
		}
		r.cov.Packages++
		switch pl.state {
		case unversioned:
			r.cov.Unversioned++
			r.example(&r.unversioned, fmt.Sprintf("%s %q", pkgs[i].Name, pkgs[i].Version))
		case matchable:
			v, err := semantic.Parse(pl.t.version, pl.t.base)
			if err != nil {
				pl.state = unparsable
				r.cov.UnparsableVersions++
				r.example(&r.unparsable, fmt.Sprintf("%s %q", pl.t.name, pl.t.version))
				break
			}
			pl.installed = v
			r.cov.Matched++
			t := pl.t
			if names[t.base] == nil {
				names[t.base] = map[string]bool{}
			}
			names[t.base][vulndb.NormalizeName(t.base, t.name)] = true
		}
		plans[i] = pl
	}
	type nameKey struct{ base, name string }
	cands := map[nameKey][]*candidate{}
	for base, set := range names {
		list := make([]string, 0, len(set))
		for n := range set {
			list = append(list, n)
		}
		sort.Strings(list)
		cs, err := src.Candidates(ctx, base, list)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			k := nameKey{base, cs[i].Name}
			cands[k] = append(cands[k], &candidate{Candidate: cs[i]})
		}
	}
	type pkgHits struct {
		i    int
		hits []pending
	}
	var found []pkgHits
	var keys []vulndb.Key
	want := map[vulndb.Key]bool{}
	for i := range pkgs {
		pl := &plans[i]
		if pl.state != matchable {
			continue
		}
		t := pl.t
		hits, err := evaluate(cands[nameKey{t.base, vulndb.NormalizeName(t.base, t.name)}], t, pl.installed, rows[pl.row])
		if err != nil {
			return nil, err
		}
		if len(hits) == 0 {
			continue
		}
		for _, h := range hits {
			if !want[h.key] {
				want[h.key] = true
				keys = append(keys, h.key)
			}
		}
		found = append(found, pkgHits{i, hits})
	}
	recs, err := src.Records(ctx, keys)
	if err != nil {
		return nil, err
	}
	// Records without a CVSS vector of their own: other records of the
	// same weakness may carry one (osv.dev's CVE records, Ubuntu's and
	// GHSA's records of the CVE a DSA fixes). One query for all of them.
	var aliasIDs []string
	wantID := map[string]bool{}
	for _, ph := range found {
		t := plans[ph.i].t
		for _, h := range ph.hits {
			r, ok := recs[h.key]
			if !ok {
				continue
			}
			if _, ok := cvssOf(r, t); ok {
				continue
			}
			for _, id := range ids(r)[1:] {
				if !wantID[id] {
					wantID[id] = true
					aliasIDs = append(aliasIDs, id)
				}
			}
		}
	}
	aliased, err := src.ByID(ctx, aliasIDs)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, ph := range found {
		hits := make([]hit, 0, len(ph.hits))
		for _, h := range ph.hits {
			if r, ok := recs[h.key]; ok {
				hits = append(hits, hit{rec: r, fixed: h.fixed})
			}
		}
		fs := findings(&pkgs[ph.i], plans[ph.i].t, hits, aliased)
		if len(fs) > 0 {
			rows[plans[ph.i].row].cov.Vulnerable++
		}
		res.Findings = append(res.Findings, fs...)
	}
	ecos, err := src.Ecosystems(ctx)
	if err != nil {
		return nil, err
	}
	order := make([]string, 0, len(rows))
	for k := range rows {
		order = append(order, k)
	}
	sort.Strings(order)
	for _, k := range order {
		r := rows[k]
		r.finish(ecos)
		res.Coverage = append(res.Coverage, r.cov)
		if w := r.warning(); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
	}
	return res, nil
}

// candidate is a database candidate with its entries decoded once, however
// many packages share its name.
type candidate struct {
	vulndb.Candidate
	decoded bool
	entries []vulndb.Affected
	err     error
}

func (c *candidate) get() ([]vulndb.Affected, error) {
	if !c.decoded {
		c.entries, c.err = c.Entries()
		c.decoded = true
	}
	return c.entries, c.err
}

// pending is a record that affects a package, before the record is read.
type pending struct {
	key   vulndb.Key
	fixed string
}

// evaluate returns the records among cands that affect the package t
// describes, installed at version installed, one per record, with the
// lowest fix above the installed version. Withdrawn records and entries of
// other releases never match. Ranges that cannot be evaluated are counted
// in cov.
func evaluate(cands []*candidate, t target, installed semantic.Version, cov *row) ([]pending, error) {
	var out []pending
	at := map[vulndb.Key]int{}
	for _, c := range cands {
		if c.Withdrawn || !t.accept(c.Ecosystem) {
			continue
		}
		entries, err := c.get()
		if err != nil {
			return nil, err
		}
		fixed, hit, bad := affects(entries, t, installed)
		for _, b := range bad {
			cov.badRange(c.ID, t.name, b)
		}
		if !hit {
			continue
		}
		if i, ok := at[c.Key]; ok {
			out[i].fixed = lower(out[i].fixed, fixed, t.base)
			continue
		}
		at[c.Key] = len(out)
		out = append(out, pending{key: c.Key, fixed: fixed})
	}
	return out, nil
}

// hit is one record that affects a package, with the lowest fix above the
// installed version ("" when there is none).
type hit struct {
	rec   *vulndb.Record
	fixed string
}

// affects evaluates a record's affected entries for the package (already
// restricted to its name and an accepted ecosystem): the version is
// affected when listed in versions or inside an ECOSYSTEM or SEMVER range.
// It returns the lowest fix above the installed version, and a description
// of each range that could not be evaluated.
func affects(entries []vulndb.Affected, t target, installed semantic.Version) (string, bool, []string) {
	fixed := ""
	found := false
	var bad []string
	for _, a := range entries {
		for _, v := range a.Versions {
			if v == t.version {
				found = true
			}
		}
		for _, rg := range a.Ranges {
			eco := t.base
			switch rg.Type {
			case "ECOSYSTEM":
			case "SEMVER":
				eco = "Go" // plain SemVer 2.0 ordering
			case "GIT":
				continue // GIT ranges name commits, not installed versions
			default:
				bad = append(bad, fmt.Sprintf("range type %q", rg.Type))
				continue
			}
			v := installed
			if eco != t.base {
				var err error
				if v, err = semantic.Parse(strings.TrimPrefix(t.version, "v"), eco); err != nil {
					bad = append(bad, fmt.Sprintf("SEMVER range, installed version %q is not SemVer", t.version))
					continue
				}
			}
			in, fix, err := inRange(v, rg.Events, eco)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			if in {
				found = true
				fixed = lower(fixed, fix, eco)
			}
		}
	}
	return fixed, found, bad
}

type event struct {
	kind string // introduced, fixed, last_affected, limit
	v    string
	pv   semantic.Version // nil for introduced "0"
}

// inRange applies the OSV evaluation: events sorted by version; introduced
// opens, fixed closes at its version, last_affected closes after it, and a
// limit bounds the whole range. It returns whether v is affected and, if
// so, the first fixed version above v. An event that does not parse makes
// the whole range unusable: it is an error, never "not affected".
func inRange(v semantic.Version, events []vulndb.Event, eco string) (bool, string, error) {
	var evs []event
	var limits []semantic.Version
	for _, e := range events {
		var ev event
		switch {
		case e.Introduced != "":
			ev = event{kind: "introduced", v: e.Introduced}
		case e.Fixed != "":
			ev = event{kind: "fixed", v: e.Fixed}
		case e.LastAffected != "":
			ev = event{kind: "last_affected", v: e.LastAffected}
		case e.Limit != "":
			if e.Limit == "*" {
				continue
			}
			pv, err := semantic.Parse(e.Limit, eco)
			if err != nil {
				return false, "", fmt.Errorf("limit %q", e.Limit)
			}
			limits = append(limits, pv)
			continue
		default:
			continue
		}
		if !(ev.kind == "introduced" && ev.v == "0") {
			pv, err := semantic.Parse(ev.v, eco)
			if err != nil {
				return false, "", fmt.Errorf("%s %q", ev.kind, ev.v) // an event we cannot order makes the range unusable
			}
			ev.pv = pv
		}
		evs = append(evs, ev)
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.pv == nil || b.pv == nil {
			return a.pv == nil && b.pv != nil
		}
		c, _ := a.pv.Compare(b.pv)
		return c < 0
	})
	if len(limits) > 0 {
		below := false
		for _, l := range limits {
			if c, _ := v.Compare(l); c < 0 {
				below = true
			}
		}
		if !below {
			return false, "", nil
		}
	}
	affected := false
	for _, e := range evs {
		var c int
		if e.pv != nil {
			c, _ = v.Compare(e.pv)
		}
		switch e.kind {
		case "introduced":
			if e.pv == nil || c >= 0 {
				affected = true
			}
		case "fixed":
			if c >= 0 {
				affected = false
			}
		case "last_affected":
			if c > 0 {
				affected = false
			}
		}
	}
	if !affected {
		return false, "", nil
	}
	for _, e := range evs {
		if e.kind != "fixed" {
			continue
		}
		if c, _ := v.Compare(e.pv); c < 0 {
			return true, e.v, nil // events are sorted: the first fix above v is the lowest
		}
	}
	return true, "", nil
}

// lower returns the lower of two fixed versions, ignoring empty ones.
func lower(a, b, eco string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	pa, err := semantic.Parse(a, eco)
	if err != nil {
		return b
	}
	if c, err := pa.CompareStr(b); err == nil && c > 0 {
		return b
	}
	return a
}
