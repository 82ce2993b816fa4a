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

// Source looks OSV records up; *vulndb.DB implements it.
type Source interface {
	Lookup(ctx context.Context, base, name string) ([]*vulndb.Record, error)
}

// maxDescription bounds the description copied from a record.
const maxDescription = 2000

// Match returns the findings for pkgs on an image running os (nil when
// unknown: OS packages are then not matched). Records are looked up once
// per ecosystem and name.
func Match(ctx context.Context, src Source, os *model.OS, pkgs []model.Package) ([]model.Finding, error) {
	type key struct{ base, name string }
	cache := map[key][]*vulndb.Record{}
	var out []model.Finding
	for i := range pkgs {
		p := &pkgs[i]
		t, ok := targetFor(p, os)
		if !ok {
			continue
		}
		k := key{t.base, vulndb.NormalizeName(t.base, t.name)}
		recs, ok := cache[k]
		if !ok {
			var err error
			if recs, err = src.Lookup(ctx, t.base, t.name); err != nil {
				return nil, err
			}
			cache[k] = recs
		}
		var hits []hit
		for _, r := range recs {
			if h, ok := affects(r, t); ok {
				hits = append(hits, h)
			}
		}
		out = append(out, findings(p, t, hits)...)
	}
	return out, nil
}

// hit is one record that affects a package, with the lowest fix above the
// installed version ("" when there is none).
type hit struct {
	rec   *vulndb.Record
	fixed string
}

// affects evaluates r against the package: withdrawn records never match;
// an affected entry applies when its ecosystem and name are the package's;
// the version is affected when listed in versions or inside an ECOSYSTEM or
// SEMVER range.
func affects(r *vulndb.Record, t target) (hit, bool) {
	if r.Withdrawn != "" {
		return hit{}, false
	}
	installed, err := semantic.Parse(t.version, t.base)
	if err != nil {
		return hit{}, false
	}
	name := vulndb.NormalizeName(t.base, t.name)
	h := hit{rec: r}
	found := false
	for _, a := range r.Affected {
		if vulndb.NormalizeName(t.base, a.Package.Name) != name || vulndb.Base(a.Package.Ecosystem) != t.base || !t.accept(a.Package.Ecosystem) {
			continue
		}
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
				if v, err = semantic.Parse(strings.TrimPrefix(t.version, "v"), eco); err != nil {
					continue
				}
			}
			in, fix := inRange(v, rg.Events, eco)
			if in {
				found = true
				h.fixed = lower(h.fixed, fix, eco)
			}
		}
	}
	return h, found
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
