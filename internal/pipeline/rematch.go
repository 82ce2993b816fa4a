package pipeline

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/rematch"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// Rematcher brings stored reports up to the vulnerability database later
// scans match against, without reading the images again: only what
// changed since the generation a report was matched at is matched anew
// (internal/rematch). It holds that database open until Close, so every
// report it touches ends at the same generation. It is not safe for
// concurrent use.
type Rematcher struct {
	p *Pipeline
	v *vulnSource
	// changes are the prepared changes since a generation; nil when the
	// change log cannot tell (every package is then matched anew).
	changes map[int64]*rematch.Change
}

// Rematcher returns a Rematcher over the database scans use now; an error
// when there is none (matching off or no database).
func (p *Pipeline) Rematcher() (*Rematcher, error) {
	v := p.useVuln()
	if v == nil || v.db == nil {
		p.doneVuln(v)
		return nil, errors.New("no vulnerability database to match against")
	}
	return &Rematcher{p: p, v: v, changes: map[int64]*rematch.Change{}}, nil
}

// Close gives the database back.
func (r *Rematcher) Close() { r.p.doneVuln(r.v) }

// Generation is the database's generation: the one reports are brought to.
func (r *Rematcher) Generation() int64 { return r.v.generation }

// Rematch brings rep, whose findings are current with the database
// generation gen (0: unknown), up to the Rematcher's generation. It
// returns the vulnerability and malicious-package findings that appeared
// (as the scan policy keeps them) and those that went away, and, when
// either is not empty, a copy of rep holding the new findings; nil when
// nothing changed. rep is not modified.
func (r *Rematcher) Rematch(ctx context.Context, rep *report.Report, gen int64) (out *report.Report, added, resolved []model.Finding, err error) {
	if gen == r.v.generation {
		return nil, nil, nil, nil
	}
	c, err := r.change(ctx, gen)
	if err != nil {
		return nil, nil, nil, err
	}
	if c == nil {
		c = everyPackage(rep)
	}
	opt := rematch.Options{MatchOSOwned: r.v.matchOSOwned}
	added, resolved, err = c.Diff(ctx, r.v.db, rep.Artifact.OS, rep.Packages, rep.Findings, opt)
	if err != nil {
		return nil, nil, nil, err
	}
	suppressed := 0
	if len(added) > 0 && !r.p.cfg.SBOMOnly {
		pol := r.p.policy
		pol.Image = []string{rep.Artifact.Input, rep.Artifact.Name, rep.Artifact.Digest}
		kept, dropped := pol.Apply(added)
		added, suppressed = kept, len(dropped)
	}
	if len(added) == 0 && len(resolved) == 0 {
		return nil, nil, nil, nil
	}
	cp := *rep
	cp.Findings = make([]model.Finding, 0, len(rep.Findings)-len(resolved)+len(added))
	// resolved holds copies of rep's findings in rep's order.
	j := 0
	for _, f := range rep.Findings {
		if j < len(resolved) && reflect.DeepEqual(f, resolved[j]) {
			j++
			continue
		}
		cp.Findings = append(cp.Findings, f)
	}
	cp.Findings = append(cp.Findings, added...)
	cp.Suppressed += suppressed
	if rep.Coverage != nil {
		cov := *rep.Coverage
		cov.Database = r.v.info
		cp.Coverage = &cov
	}
	cp.CreatedAt = time.Now().UTC().Truncate(time.Second)
	cp.Summarize()
	return &cp, added, resolved, nil
}

// Changes returns what changed in the database since the generation gen
// (vulndb.DB.ChangedSince): an inventory matched at gen that holds none of
// its packages and has no finding from its records is current as it is.
// ok is false when that cannot be told (gen 0, or beyond the change log):
// every inventory matched at gen must then be re-matched.
func (r *Rematcher) Changes(ctx context.Context, gen int64) (ch vulndb.Changes, ok bool, err error) {
	if gen == r.v.generation {
		return vulndb.Changes{Generation: gen}, true, nil
	}
	c, err := r.change(ctx, gen)
	if err != nil || c == nil {
		return vulndb.Changes{}, false, err
	}
	return c.Changes(), true, nil
}

// change returns the prepared changes since gen, nil when the change log
// cannot tell.
func (r *Rematcher) change(ctx context.Context, gen int64) (*rematch.Change, error) {
	if c, ok := r.changes[gen]; ok {
		return c, nil
	}
	var c *rematch.Change
	if gen > 0 {
		ch, ok, err := r.v.db.ChangedSince(ctx, gen)
		if err != nil {
			return nil, err
		}
		if ok {
			c = rematch.NewChange(ch)
		}
	}
	r.changes[gen] = c
	return c, nil
}

// everyPackage is a change that names every package of rep's inventory:
// a diff over it is that of a whole new match.
func everyPackage(rep *report.Report) *rematch.Change {
	var ch vulndb.Changes
	for _, p := range rep.Packages {
		if k, ok := rematch.PackageKey(rep.Artifact.OS, p); ok {
			ch.Keys = append(ch.Keys, k)
		}
	}
	return rematch.NewChange(ch)
}
