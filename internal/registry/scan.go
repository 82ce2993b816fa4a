package registry

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/customs-scanner/customs/internal/model"
)

// ScanOptions configure a registry scan.
type ScanOptions struct {
	// Remote and Name are the go-containerregistry options for the
	// registry (credentials, TLS, plain HTTP).
	Remote []remote.Option
	Name   []name.Option
	// Repos and Tags are path.Match globs; empty means all. A Repos entry
	// without glob characters is used as is when the catalog is closed.
	Repos []string
	Tags  []string
	// Latest keeps the N highest tags of each repository in version order
	// (0: all).
	Latest int
	// Parallel bounds how many images are scanned at once (default 2).
	Parallel int
	// Scan runs the image pipeline on one reference (repo@digest).
	Scan ScanFunc
	// StateDir, when set, holds each finished image's result keyed by
	// digest and DBVersion, so a rerun skips it: a SQLite database,
	// StateDir/state.db, that concurrent runs may share.
	StateDir  string
	DBVersion string
	// Drift, when set, records every tag's digest and reports moved tags.
	Drift *DriftStore
	// Progress receives one line per image event (usually stderr).
	Progress io.Writer
}

// ScanFunc scans one image. It may return a result together with an
// error (a scan that found tampered layers).
type ScanFunc func(ctx context.Context, ref string) (*ImageResult, error)

// ImageResult is the outcome of scanning one distinct image.
type ImageResult struct {
	Digest string `json:"digest"`
	// Refs lists the repository:tag names that point to the image.
	Refs []string `json:"refs"`
	// Summary counts findings by class, then severity.
	Summary map[string]map[string]int `json:"summary"`
	// Findings of the image (in the report they are listed once, at the top).
	Findings     []model.Finding `json:"findings,omitempty"`
	LayersCached int             `json:"layers_cached"`
	LayersWalked int             `json:"layers_walked"`
	// Missing says what vulnerability data the image's scan lacked (see
	// the image report's coverage).
	Missing []string `json:"missing_data,omitempty"`
	// Resumed is true when the result comes from an earlier run.
	Resumed bool   `json:"resumed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ScanReport is the aggregated outcome of a registry scan.
type ScanReport struct {
	Registry  string          `json:"registry"`
	CreatedAt time.Time       `json:"created_at"`
	DBVersion string          `json:"db_version,omitempty"`
	Stats     ScanStats       `json:"stats"`
	Images    []ImageResult   `json:"images"`
	Findings  []model.Finding `json:"findings"`
	// Errors lists repositories or tags that could not be listed or resolved.
	Errors []string `json:"errors,omitempty"`
}

// ScanStats counts what a registry scan did.
type ScanStats struct {
	Repositories int `json:"repositories"`
	Tags         int `json:"tags"`
	Images       int `json:"images"`
	Scanned      int `json:"scanned"`
	Resumed      int `json:"resumed"`
	Failed       int `json:"failed"`
	LayersCached int `json:"layers_cached"`
	LayersWalked int `json:"layers_walked"`
}

// target is one distinct image to scan.
type target struct {
	ref    string // repo@digest
	digest string
	refs   []string
	layers []string // layer digests, to schedule images that share layers
}

// Scan enumerates the registry's repositories and tags, resolves each
// tag to a digest, and scans every distinct digest once through opt.Scan,
// continuing past failures.
func Scan(ctx context.Context, registryAddr string, opt ScanOptions) (*ScanReport, error) {
	if opt.Parallel <= 0 {
		opt.Parallel = 2
	}
	reg, err := name.NewRegistry(registryAddr, opt.Name...)
	if err != nil {
		return nil, fmt.Errorf("registry address %q: %w", registryAddr, err)
	}
	rep := &ScanReport{Registry: reg.Name(), CreatedAt: time.Now().UTC(), DBVersion: opt.DBVersion}
	var state *stateStore
	if opt.StateDir != "" {
		if state, err = openState(opt.StateDir); err != nil {
			return nil, err
		}
		defer state.Close()
	}
	repos, err := listRepos(ctx, reg, opt)
	if err != nil {
		return nil, err
	}
	rep.Stats.Repositories = len(repos)
	targets, errs := resolve(ctx, reg, repos, opt, rep)
	rep.Errors = append(rep.Errors, errs...)
	rep.Stats.Images = len(targets)

	results := make([]ImageResult, len(targets))
	sched := newScheduler()
	var done int
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Parallel)
	for i, tg := range targets {
		g.Go(func() error {
			r := scanOne(gctx, tg, opt, sched, state)
			results[i] = r
			mu.Lock()
			done++
			status := "done"
			switch {
			case r.Error != "":
				status = "failed: " + r.Error
			case r.Resumed:
				status = "already scanned"
			}
			progress(opt.Progress, "[%d/%d] %s %s", done, len(targets), strings.Join(tg.refs, ", "), status)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, r := range results {
		st := &rep.Stats
		switch {
		case r.Error != "":
			st.Failed++
		case r.Resumed:
			st.Resumed++
		default:
			st.Scanned++
		}
		st.LayersCached += r.LayersCached
		st.LayersWalked += r.LayersWalked
		for _, f := range r.Findings {
			f.Extra = withKey(f.Extra, "image", r.Digest)
			f.Extra["refs"] = strings.Join(r.Refs, ",")
			rep.Findings = append(rep.Findings, f)
		}
		r.Findings = nil
		rep.Images = append(rep.Images, r)
	}
	sort.SliceStable(rep.Findings, func(a, b int) bool {
		return rep.Findings[a].Severity.Rank() > rep.Findings[b].Severity.Rank()
	})
	return rep, nil
}

func scanOne(ctx context.Context, tg target, opt ScanOptions, sched *scheduler, state *stateStore) ImageResult {
	var drift []model.Finding
	if opt.Drift != nil {
		for _, r := range tg.refs {
			if f, err := opt.Drift.Observe(r, tg.digest); err == nil && f != nil {
				drift = append(drift, *f)
			}
		}
	}
	if state != nil {
		if r, ok := state.load(opt.DBVersion, tg.digest); ok {
			r.Refs, r.Resumed = tg.refs, true
			r.LayersCached, r.LayersWalked = 0, 0 // nothing was read this run
			r.Findings = append(r.Findings, drift...)
			r.Summary = summarize(r.Findings)
			return r
		}
	}
	release := sched.claim(ctx, tg.layers)
	res, err := opt.Scan(ctx, tg.ref)
	release()
	r := ImageResult{}
	if res != nil {
		r = *res
	}
	r.Digest, r.Refs = tg.digest, tg.refs
	if err != nil {
		r.Error = err.Error()
	}
	if err == nil && state != nil {
		_ = state.save(opt.DBVersion, r) // a state that cannot be written only costs a rescan
	}
	r.Findings = append(r.Findings, drift...)
	r.Summary = summarize(r.Findings)
	return r
}

func summarize(fs []model.Finding) map[string]map[string]int {
	s := map[string]map[string]int{}
	for _, f := range fs {
		c := string(f.Class)
		if s[c] == nil {
			s[c] = map[string]int{}
		}
		sev := f.Severity
		if sev == "" {
			sev = model.Unknown
		}
		s[c][string(sev)]++
	}
	return s
}

func listRepos(ctx context.Context, reg name.Registry, opt ScanOptions) ([]string, error) {
	literal := len(opt.Repos) > 0
	for _, g := range opt.Repos {
		if strings.ContainsAny(g, "*?[") {
			literal = false
		}
	}
	if literal {
		return opt.Repos, nil
	}
	all, err := remote.Catalog(ctx, reg, opt.Remote...)
	if err != nil {
		return nil, fmt.Errorf("listing the repositories of %s (pass --repo NAME when the catalog is closed): %w", reg.Name(), err)
	}
	var out []string
	for _, r := range all {
		if matchAny(opt.Repos, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// resolve lists each repository's tags and resolves them to digests,
// grouping tags that point to the same image.
func resolve(ctx context.Context, reg name.Registry, repos []string, opt ScanOptions, rep *ScanReport) ([]target, []string) {
	var (
		mu      sync.Mutex
		byDig   = map[string]*target{}
		order   []string
		errs    []string
		g, gctx = errgroup.WithContext(ctx)
	)
	g.SetLimit(max(opt.Parallel, 4))
	for _, repoName := range repos {
		repo := reg.Repo(repoName)
		tags, err := remote.List(repo, append(opt.Remote, remote.WithContext(ctx))...)
		if err != nil {
			errs = append(errs, fmt.Sprintf("listing tags of %s: %v", repoName, err))
			continue
		}
		tags = selectTags(tags, opt.Tags, opt.Latest)
		rep.Stats.Tags += len(tags)
		for _, tag := range tags {
			g.Go(func() error {
				t := repo.Tag(tag)
				tagRef := repoName + ":" + tag
				img, err := remote.Image(t, append(opt.Remote, remote.WithContext(gctx))...)
				var dig string
				var layers []string
				if err == nil {
					var d fmt.Stringer
					if d, err = img.Digest(); err == nil {
						dig = d.String()
						if m, merr := img.Manifest(); merr == nil {
							for _, l := range m.Layers {
								layers = append(layers, l.Digest.String())
							}
						}
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Sprintf("resolving %s: %v", tagRef, err))
					return nil
				}
				key := repoName + "@" + dig
				if tg, ok := byDig[dig]; ok {
					tg.refs = append(tg.refs, reg.Name()+"/"+tagRef)
					return nil
				}
				byDig[dig] = &target{ref: reg.Name() + "/" + key, digest: dig, refs: []string{reg.Name() + "/" + tagRef}, layers: layers}
				order = append(order, dig)
				return nil
			})
		}
	}
	_ = g.Wait()
	sort.Strings(order)
	out := make([]target, 0, len(order))
	for _, d := range order {
		tg := byDig[d]
		sort.Strings(tg.refs)
		out = append(out, *tg)
	}
	sort.Strings(errs)
	return out, errs
}

// selectTags keeps the tags matching globs, then the latest highest in
// version order.
func selectTags(tags, globs []string, latest int) []string {
	var out []string
	for _, t := range tags {
		if matchAny(globs, t) {
			out = append(out, t)
		}
	}
	if latest > 0 && len(out) > latest {
		sort.SliceStable(out, func(a, b int) bool { return versionLess(out[b], out[a]) })
		out = out[:latest]
	}
	return out
}

// versionLess compares tags piece by piece: runs of digits as numbers,
// other runs as text ("1.10" after "1.9").
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.ParseUint(pa[i], 10, 64)
		nb, eb := strconv.ParseUint(pb[i], 10, 64)
		switch {
		case ea == nil && eb == nil && na != nb:
			return na < nb
		case (ea == nil) != (eb == nil):
			return ea != nil // text sorts before numbers
		case ea != nil && pa[i] != pb[i]:
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

func versionParts(s string) []string {
	var parts []string
	start := 0
	for i := 1; i <= len(s); i++ {
		if i == len(s) || isDigit(s[i]) != isDigit(s[i-1]) {
			parts = append(parts, s[start:i])
			start = i
		}
	}
	return parts
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scheduler lets the first image that holds a layer analyse it while
// other images holding the same layer wait for it, so that with a shared
// layer cache every distinct layer is analysed once.
type scheduler struct {
	mu     sync.Mutex
	claims map[string]chan struct{} // layer digest -> closed when its claimer finished
}

func newScheduler() *scheduler { return &scheduler{claims: map[string]chan struct{}{}} }

// claim waits until no other running image holds one of layers, then
// claims the unclaimed ones; the returned function releases them. Claims
// are taken only once nothing is awaited, so images never wait on each
// other in a cycle.
func (s *scheduler) claim(ctx context.Context, layers []string) func() {
	for {
		s.mu.Lock()
		var wait []chan struct{}
		for _, l := range layers {
			if ch, ok := s.claims[l]; ok {
				select {
				case <-ch:
				default:
					wait = append(wait, ch)
				}
			}
		}
		if len(wait) == 0 {
			mine := make(chan struct{})
			for _, l := range layers {
				if _, ok := s.claims[l]; !ok {
					s.claims[l] = mine
				}
			}
			s.mu.Unlock()
			return func() { close(mine) }
		}
		s.mu.Unlock()
		for _, ch := range wait {
			select {
			case <-ch:
			case <-ctx.Done():
				return func() {}
			}
		}
	}
}

func progress(w io.Writer, format string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", a...)
	}
}
