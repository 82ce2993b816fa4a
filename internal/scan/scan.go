// Package scan runs the layer engine over an opened image: it walks the
// layers that are not cached (in parallel where the source allows), merges
// the per-layer results along the final filesystem view, and runs the
// image-level analyzers.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/source"
)

// Options configure a scan. The zero value of a field means its default.
type Options struct {
	Analyzers      []analyzer.Analyzer
	ImageAnalyzers []analyzer.ImageAnalyzer
	Limits         layer.Limits
	// Cache stores per-layer results; nil disables caching.
	Cache *cache.Dir
	// Parallel bounds how many layers are analysed at once (default: CPUs).
	Parallel int
	// Progress, when set, is told about each layer as it starts and ends.
	Progress func(Event)
}

// Event reports the progress of one layer.
type Event struct {
	Layer  int
	Total  int
	Done   bool
	Cached bool
}

// Result is the merged outcome of a scan.
type Result struct {
	Meta     *source.Meta
	Layers   []model.Layer
	OS       *model.OS
	Packages []model.Package
	Findings []model.Finding
	// Files holds the kept files of the final filesystem, by path.
	Files    map[string][]byte
	View     *layer.View
	Warnings []string
}

// ErrLayer marks a scan that could not read every layer completely; the
// Result then holds an archive or integrity finding naming the layer.
var ErrLayer = errors.New("layer could not be read completely")

// Run scans img.
func Run(ctx context.Context, img source.Image, opt Options) (*Result, error) {
	meta := img.Meta()
	if opt.Parallel <= 0 {
		opt.Parallel = runtime.NumCPU()
	}
	n := len(meta.Layers)
	walked := make([]*layer.Walked, n)
	keys := make([]string, n)
	missing := 0
	for i, l := range meta.Layers {
		if l.DiffID == "" || opt.Cache == nil {
			missing++
			continue
		}
		keys[i] = cache.Key(l.DiffID, opt.Analyzers, opt.Limits)
		if w, ok := opt.Cache.Get(keys[i]); ok {
			walked[i] = w
			opt.progress(Event{Layer: i, Total: n, Done: true, Cached: true})
		} else {
			missing++
		}
	}
	var layerErrs []error
	var mu sync.Mutex
	fail := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		layerErrs = append(layerErrs, fmt.Errorf("layer %d: %w", i, err))
	}
	if missing > 0 {
		var err error
		switch s := img.(type) {
		case source.RandomAccess:
			err = runRandom(ctx, s, walked, keys, opt, fail)
		case source.Streaming:
			err = runStream(ctx, s, walked, keys, opt, fail)
		default:
			err = fmt.Errorf("source %s cannot read layers", meta.Kind)
		}
		if err != nil {
			return nil, err
		}
	}
	res := merge(meta, walked)
	for i, w := range walked {
		if w == nil {
			fail(i, errors.New("layer missing from the image"))
			res.Findings = append(res.Findings, layerFinding(meta, i, model.ClassIntegrity, "layer-missing", "layer named by the image configuration is missing from the image"))
		}
	}
	if err := runImageAnalyzers(ctx, res, opt.ImageAnalyzers); err != nil {
		return nil, err
	}
	sortFindings(res.Findings)
	if len(layerErrs) > 0 {
		return res, fmt.Errorf("%w: %w", ErrLayer, errors.Join(layerErrs...))
	}
	return res, nil
}

func (o Options) progress(e Event) {
	if o.Progress != nil {
		o.Progress(e)
	}
}

func runRandom(ctx context.Context, img source.RandomAccess, walked []*layer.Walked, keys []string, opt Options, fail func(int, error)) error {
	meta := img.Meta()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Parallel)
	for i := range walked {
		if walked[i] != nil {
			continue
		}
		g.Go(func() error {
			opt.progress(Event{Layer: i, Total: len(walked)})
			rc, err := img.OpenLayer(gctx, i)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				fail(i, err)
				return nil
			}
			defer rc.Close()
			w, err := layer.Walk(gctx, rc, opt.Analyzers, opt.Limits)
			walked[i] = w
			if err == nil {
				err = checkDiffID(meta.Layers[i].DiffID, w.DiffID)
			}
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				fail(i, err)
				w.Result.Findings = append(w.Result.Findings, layerFinding(meta, i, classOf(err), "layer-unreadable", "layer could not be read completely: "+err.Error()))
				return nil
			}
			store(opt.Cache, keys[i], w)
			opt.progress(Event{Layer: i, Total: len(walked), Done: true})
			return nil
		})
	}
	return g.Wait()
}

func runStream(ctx context.Context, img source.Streaming, walked []*layer.Walked, keys []string, opt Options, fail func(int, error)) error {
	meta := img.Meta()
	byDiffID := map[string]int{}
	for i, l := range meta.Layers {
		byDiffID[l.DiffID] = i
	}
	seen := 0
	err := img.StreamLayers(ctx, func(r io.Reader) error {
		opt.progress(Event{Layer: seen, Total: len(walked)})
		seen++
		w, err := layer.Walk(ctx, r, opt.Analyzers, opt.Limits)
		if err != nil {
			return err
		}
		i, ok := byDiffID[w.DiffID]
		if !ok {
			return nil // a layer of another image in the same archive
		}
		if walked[i] == nil {
			walked[i] = w
			store(opt.Cache, keys[i], w)
		}
		opt.progress(Event{Layer: i, Total: len(walked), Done: true})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fail(seen-1, err)
	}
	return nil
}

func store(c *cache.Dir, key string, w *layer.Walked) {
	if c != nil && key != "" {
		_ = c.Put(key, w) // a cache that cannot be written only costs time
	}
}

func checkDiffID(want, got string) error {
	if want != "" && got != "" && want != got {
		return &DigestError{Want: want, Got: got}
	}
	return nil
}

// DigestError says that a layer's content does not match its diff ID.
type DigestError struct{ Want, Got string }

func (e *DigestError) Error() string {
	return fmt.Sprintf("layer content digest %s does not match the diff ID %s in the image configuration", e.Got, e.Want)
}

func classOf(err error) model.Class {
	var de *DigestError
	if errors.As(err, &de) || strings.Contains(err.Error(), "checksum") || strings.Contains(err.Error(), "digest") {
		return model.ClassIntegrity
	}
	return model.ClassArchive
}

func layerFinding(meta *source.Meta, i int, class model.Class, id, title string) model.Finding {
	sev := model.High
	if class == model.ClassIntegrity {
		sev = model.Critical
	}
	f := model.Finding{Class: class, ID: string(class) + "-" + id, Title: title, Severity: sev, Location: fmt.Sprintf("layers[%d]", i)}
	if i >= 0 && i < len(meta.Layers) {
		f.LayerDiffID = meta.Layers[i].DiffID
	}
	return f
}

func runImageAnalyzers(ctx context.Context, res *Result, ias []analyzer.ImageAnalyzer) error {
	if len(ias) == 0 {
		return nil
	}
	img := &analyzer.Image{
		Input: res.Meta.Input, Name: res.Meta.Name, Source: res.Meta.Kind, Digest: res.Meta.Digest,
		Config: res.Meta.Config, Layers: res.Layers, OS: res.OS, Packages: res.Packages, Files: res.Files,
		Exists: func(p string) bool { return res.View.Owner(p) >= 0 },
	}
	for _, ia := range ias {
		fs, err := ia.AnalyzeImage(ctx, img)
		if err != nil {
			res.Warnings = append(res.Warnings, ia.Name()+": "+err.Error())
			continue
		}
		res.Findings = append(res.Findings, fs...)
	}
	return nil
}

func sortFindings(fs []model.Finding) {
	sort.SliceStable(fs, func(a, b int) bool {
		if ra, rb := fs[a].Severity.Rank(), fs[b].Severity.Rank(); ra != rb {
			return ra > rb
		}
		if fs[a].Class != fs[b].Class {
			return fs[a].Class < fs[b].Class
		}
		return fs[a].ID < fs[b].ID
	})
}
