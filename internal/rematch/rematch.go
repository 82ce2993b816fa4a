// Package rematch re-matches stored package inventories against what
// changed in the vulnerability database (vulndb.DB.ChangedSince), without
// reading the images again: only the packages the changed records name
// are matched anew, and the findings that appear and disappear are the
// inventory's diff. The findings are those a fresh match.Run of the whole
// inventory would give. When ChangedSince cannot tell what changed (its ok
// is false), every inventory must be matched anew with match.Run.
package rematch

import (
	"context"
	"strings"

	"github.com/customs-scanner/customs/internal/match"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// Options are the matching settings of the scans whose inventories are
// re-matched; they must be those of the scans for the diff to hold.
type Options struct {
	// MatchOSOwned also matches the language packages an OS package
	// installed (pipeline.VulnConfig.MatchOSOwned); by default they are
	// left out, as a scan leaves them out.
	MatchOSOwned bool
}

// PackageKey is the database key of p on an image running os (see
// match.LookupKey): an inventory holding p is touched by a change whose
// Keys hold it. ok is false for a package that is never matched.
func PackageKey(os *model.OS, p model.Package) (vulndb.PackageKey, bool) {
	return match.LookupKey(&p, os)
}

// Change is one set of database changes, ready to be tested against and
// re-matched with many inventories.
type Change struct {
	ch   vulndb.Changes
	keys map[vulndb.PackageKey]bool
	ids  map[string]bool
}

// NewChange prepares ch.
func NewChange(ch vulndb.Changes) *Change {
	c := &Change{ch: ch, keys: make(map[vulndb.PackageKey]bool, len(ch.Keys)), ids: make(map[string]bool, len(ch.IDs))}
	for _, k := range ch.Keys {
		c.keys[k] = true
	}
	for _, id := range ch.IDs {
		c.ids[id] = true
	}
	return c
}

// Changes is the change c was prepared from.
func (c *Change) Changes() vulndb.Changes { return c.ch }

// Affected reports whether the inventory pkgs of an image running os holds
// a matched package that the change touches: only such an inventory can
// have a different diff than nothing.
func (c *Change) Affected(os *model.OS, pkgs []model.Package, opt Options) bool {
	for i := range pkgs {
		if c.touches(os, &pkgs[i], opt) {
			return true
		}
	}
	return false
}

func (c *Change) touches(os *model.OS, p *model.Package, opt Options) bool {
	if p.OSOwned && !opt.MatchOSOwned {
		return false
	}
	k, ok := match.LookupKey(p, os)
	return ok && c.keys[k]
}

// Diff re-matches the packages of the inventory pkgs (of an image running
// os) that the change touches, against src (the changed database), and
// compares the result with prev, the inventory's vulnerability and
// malicious-package findings before the change (its other findings are
// ignored). added are the findings now present that were not; resolved the
// previous findings, of touched packages or of a changed record, that are
// gone. A finding is identified by its id and its package (see identity),
// so a finding whose severity or text changed is neither.
func (c *Change) Diff(ctx context.Context, src match.Source, os *model.OS, pkgs []model.Package, prev []model.Finding, opt Options) (added, resolved []model.Finding, err error) {
	touched := map[string]bool{} // package identities
	var again []model.Package
	for i := range pkgs {
		if c.touches(os, &pkgs[i], opt) {
			touched[packageIdentity(pkgs[i].Ref())] = true
		}
	}
	// A previous finding from a changed record whose package the change's
	// keys do not name (a record held by several sources, say) is re-matched
	// too, so that it is never called resolved without a look.
	for i := range prev {
		f := &prev[i]
		if fromMatch(f) && c.namesRecordOf(f) {
			touched[packageIdentity(f.Package)] = true
		}
	}
	if len(touched) == 0 {
		return nil, nil, nil
	}
	for i := range pkgs {
		p := &pkgs[i]
		if (!p.OSOwned || opt.MatchOSOwned) && touched[packageIdentity(p.Ref())] {
			again = append(again, *p)
		}
	}
	var now []model.Finding
	if len(again) > 0 {
		res, err := match.Run(ctx, src, os, again)
		if err != nil {
			return nil, nil, err
		}
		now = res.Findings
	}
	// Previous findings in scope are resolved unless a finding of the same
	// identity is found again, each one meeting at most one.
	gone := make([]bool, len(prev))
	before := map[string][]int{} // identity -> indexes into prev
	for i := range prev {
		f := &prev[i]
		if fromMatch(f) && touched[packageIdentity(f.Package)] {
			id := identity(f)
			before[id] = append(before[id], i)
			gone[i] = true
		}
	}
	for _, f := range now {
		id := identity(&f)
		if left := before[id]; len(left) > 0 {
			gone[left[0]] = false
			before[id] = left[1:]
			continue
		}
		added = append(added, f)
	}
	for i, g := range gone {
		if g {
			resolved = append(resolved, prev[i])
		}
	}
	return added, resolved, nil
}

// Diff is NewChange(ch).Diff.
func Diff(ctx context.Context, src match.Source, os *model.OS, pkgs []model.Package, prev []model.Finding, ch vulndb.Changes, opt Options) (added, resolved []model.Finding, err error) {
	return NewChange(ch).Diff(ctx, src, os, pkgs, prev, opt)
}

// namesRecordOf reports whether a changed record is among those behind f:
// its id or the OSV records match grouped into it.
func (c *Change) namesRecordOf(f *model.Finding) bool {
	if c.ids[f.ID] {
		return true
	}
	for id := range strings.SplitSeq(f.Extra[osvIDs], ",") {
		if c.ids[id] {
			return true
		}
	}
	return false
}

// osvIDs is the Finding.Extra key under which match lists the OSV records
// of a finding.
const osvIDs = "osv_ids"

// fromMatch reports whether f is a finding of match.Run: a vulnerability
// or malicious-package finding on a package, from OSV records.
func fromMatch(f *model.Finding) bool {
	return f.Package != nil && f.Extra[osvIDs] != "" &&
		(f.Class == model.ClassVulnerability || f.Class == model.ClassMalware)
}

// identity names a finding of match.Run for the diff: its class, its id
// (the CVE when the records name one, else the record's id) and its
// package.
func identity(f *model.Finding) string {
	return string(f.Class) + "\x00" + f.ID + "\x00" + packageIdentity(f.Package)
}

// packageIdentity names an installed package: its package URL, else its
// type, name and version.
func packageIdentity(p *model.PackageRef) string {
	if p.PURL != "" {
		return p.PURL
	}
	return p.Type + "\x00" + p.Name + "@" + p.Version
}
