package scan

import (
	"sort"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/ownership"
	"github.com/customs-scanner/customs/internal/purl"
	"github.com/customs-scanner/customs/internal/source"
)

// merge stacks per-layer results into the image's final state: packages,
// operating system and kept files come from the layer whose version of
// their file is final; findings in files from every layer, marked when a
// later layer removed or replaced the file. It also returns what the
// final package databases say each package installed, for
// ownership.Apply.
func merge(meta *source.Meta, walked []*layer.Walked) (*Result, ownership.Image) {
	res := &Result{Meta: meta, Files: map[string][]byte{}}
	owned := ownership.Image{Owned: ownership.Files{}}
	digests := map[[2]string]analyzer.Digest{} // {diff ID, path}
	res.Layers = layerModels(meta)
	indexes := make([]*layer.Index, len(walked))
	for i, w := range walked {
		if w == nil {
			indexes[i] = &layer.Index{}
			continue
		}
		indexes[i] = &w.Index
		if res.Layers[i].DiffID == "" {
			res.Layers[i].DiffID = w.DiffID
		}
	}
	res.View = layer.NewView(indexes)
	introduced := introducedLayers(walked, indexes)
	var best *osCandidate
	for i, w := range walked {
		if w == nil {
			continue
		}
		diffID := res.Layers[i].DiffID
		for _, rec := range w.Result.OS {
			if res.View.Final(rec.Path, i) && (best == nil || rec.Priority > best.priority) {
				best = &osCandidate{os: rec.OS, priority: rec.Priority}
			}
		}
		for _, p := range w.Result.Packages {
			if !res.View.Final(p.Path, i) {
				continue
			}
			p.LayerDiffID = res.Layers[introduced[pkgKey{p.Path, p.Key(), p.Version}]].DiffID
			res.Packages = append(res.Packages, p)
		}
		for _, o := range w.Result.Owned {
			if !res.View.Final(o.DB, i) {
				continue
			}
			for _, f := range o.Files {
				owned.Owned[f.Path] = ownership.Owner{Package: o.Package, Digest: f.Digest, Mode: f.Mode, LayerDiffID: diffID}
			}
		}
		for p, d := range w.Result.Digests {
			digests[[2]string{diffID, p}] = d
		}
		for p, b := range w.Result.Files {
			if res.View.Final(p, i) {
				res.Files[p] = b
			}
		}
		for _, f := range w.Result.Findings {
			if f.LayerDiffID == "" {
				f.LayerDiffID = diffID
			}
			if f.Path != "" {
				f.RemovedInFinal = !res.View.Final(f.Path, i)
			}
			res.Findings = append(res.Findings, f)
		}
		if w.Result.Incomplete {
			res.Incomplete = true
		}
		for _, warn := range w.Result.Warnings {
			res.Warnings = append(res.Warnings, "layer "+shortDigest(diffID)+": "+warn)
		}
	}
	if best != nil {
		os := best.os
		res.OS = &os
	}
	res.Packages = purl.WithDistro(res.Packages, res.OS)
	res.Packages = dedupePackages(res.Packages)
	owned.Digest = func(diffID, p string) (analyzer.Digest, bool) {
		d, ok := digests[[2]string{diffID, p}]
		return d, ok
	}
	return res, owned
}

type osCandidate struct {
	os       model.OS
	priority int
}

// pkgKey identifies one version of one package in one database file.
type pkgKey struct{ path, key, version string }

// introducedLayers finds, for every package version in every database file,
// the layer where it first appeared and stayed: a layer that rewrites a
// database file keeps the introducing layer of the package versions it still
// lists, and a version that disappears and comes back later is introduced
// again. The map is keyed by package version, so a lockfile that lists two
// versions of one package keeps both apart.
func introducedLayers(walked []*layer.Walked, indexes []*layer.Index) map[pkgKey]int {
	start := map[pkgKey]int{}
	for i, w := range walked {
		if w == nil {
			continue
		}
		present := map[pkgKey]bool{}
		for _, p := range w.Result.Packages {
			present[pkgKey{p.Path, p.Key(), p.Version}] = true
		}
		for k := range start {
			if !present[k] && indexes[i].Has(k.path) {
				delete(start, k)
			}
		}
		for k := range present {
			if _, ok := start[k]; !ok {
				start[k] = i
			}
		}
	}
	return start
}

// dedupePackages merges packages with the same purl found at several paths
// (a lockfile and the installed copy) into one with every location.
func dedupePackages(pkgs []model.Package) []model.Package {
	out := pkgs[:0]
	seen := map[string]int{}
	for _, p := range pkgs {
		if p.PURL == "" {
			out = append(out, p)
			continue
		}
		if j, ok := seen[p.PURL]; ok {
			if out[j].Path != p.Path {
				out[j].Locations = append(out[j].Locations, p.Path)
			}
			continue
		}
		seen[p.PURL] = len(out)
		out = append(out, p)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Type != out[b].Type {
			return out[a].Type < out[b].Type
		}
		if out[a].Name != out[b].Name {
			return out[a].Name < out[b].Name
		}
		return out[a].Version < out[b].Version
	})
	return out
}

func layerModels(meta *source.Meta) []model.Layer {
	ls := make([]model.Layer, len(meta.Layers))
	var history []string
	if meta.Config != nil {
		for _, h := range meta.Config.History {
			if !h.EmptyLayer {
				history = append(history, h.CreatedBy)
			}
		}
	}
	for i, l := range meta.Layers {
		ls[i] = model.Layer{Index: i, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size}
		if i < len(history) {
			ls[i].CreatedBy = history[i]
		}
	}
	return ls
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
