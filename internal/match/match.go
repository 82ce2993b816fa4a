// Package match turns an image's package inventory into vulnerability and
// malicious-package findings, using OSV records from the vulnerability
// database. Matching is exact: each package is looked up under its own
// ecosystem (distribution advisories by source package and release), and
// versions are compared with that ecosystem's rules.
package match

import (
	"context"
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
}

// maxDescription bounds the description copied from a record.
const maxDescription = 2000

// Match returns the findings for pkgs on an image running os (nil when
// unknown: OS packages are then not matched). It queries the candidates of
// all packages of an ecosystem at once, compares versions against the
// candidates' ranges, and reads the whole records only of those that
// affect a package.
func Match(ctx context.Context, src Source, os *model.OS, pkgs []model.Package) ([]model.Finding, error) {
	targets := make([]target, len(pkgs))
	ok := make([]bool, len(pkgs))
	names := map[string]map[string]bool{} // base -> normalized names
	for i := range pkgs {
		if targets[i], ok[i] = targetFor(&pkgs[i], os); !ok[i] {
			continue
		}
		t := targets[i]
		if names[t.base] == nil {
			names[t.base] = map[string]bool{}
		}
		names[t.base][vulndb.NormalizeName(t.base, t.name)] = true
	}
	type nameKey struct{ base, name string }
	cands := map[nameKey][]*candidate{}
	for base, set := range names {
		list := make([]string, 0, len(set))
		for n := range set {
			list = append(list, n)
		}
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
		if !ok[i] {
			continue
		}
		t := targets[i]
		hits, err := evaluate(cands[nameKey{t.base, vulndb.NormalizeName(t.base, t.name)}], t)
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
	var out []model.Finding
	for _, ph := range found {
		hits := make([]hit, 0, len(ph.hits))
		for _, h := range ph.hits {
			if r, ok := recs[h.key]; ok {
				hits = append(hits, hit{rec: r, fixed: h.fixed})
			}
		}
		out = append(out, findings(&pkgs[ph.i], targets[ph.i], hits)...)
	}
	return out, nil
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
// describes, one per record, with the lowest fix above the installed
// version. Withdrawn records and entries of other releases never match.
func evaluate(cands []*candidate, t target) ([]pending, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	installed, err := semantic.Parse(t.version, t.base)
	if err != nil {
		return nil, nil
	}
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
		fixed, hit := affects(entries, t, installed)
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
// It returns the lowest fix above the installed version.
func affects(entries []vulndb.Affected, t target, installed semantic.Version) (string, bool) {
	fixed := ""
	found := false
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
			default:
				continue // GIT ranges name commits, not installed versions
			}
			v := installed
			if eco != t.base {
				var err error
				if v, err = semantic.Parse(strings.TrimPrefix(t.version, "v"), eco); err != nil {
					continue
				}
			}
			in, fix := inRange(v, rg.Events, eco)
			if in {
				found = true
				fixed = lower(fixed, fix, eco)
			}
		}
	}
	return fixed, found
}

type event struct {
	kind string // introduced, fixed, last_affected, limit
	v    string
	pv   semantic.Version // nil for introduced "0"
}

// inRange applies the OSV evaluation: events sorted by version; introduced
// opens, fixed closes at its version, last_affected closes after it, and a
// limit bounds the whole range. It returns whether v is affected and, if
// so, the first fixed version above v.
func inRange(v semantic.Version, events []vulndb.Event, eco string) (bool, string) {
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
				return false, ""
			}
			limits = append(limits, pv)
			continue
		default:
			continue
		}
		if !(ev.kind == "introduced" && ev.v == "0") {
			pv, err := semantic.Parse(ev.v, eco)
			if err != nil {
				return false, "" // an event we cannot order makes the range unusable
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
			return false, ""
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
		return false, ""
	}
	for _, e := range evs {
		if e.kind != "fixed" {
			continue
		}
		if c, _ := v.Compare(e.pv); c < 0 {
			return true, e.v // events are sorted: the first fix above v is the lowest
		}
	}
	return true, ""
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
