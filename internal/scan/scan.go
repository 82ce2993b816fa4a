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
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/ownership"
	"github.com/customs-scanner/customs/internal/source"
)

// Options configure a scan. The zero value of a field means its default.
type Options struct {
	Analyzers      []analyzer.Analyzer
	ImageAnalyzers []analyzer.ImageAnalyzer
	Limits         layer.Limits
	// Cache stores per-layer results; nil disables caching.
	Cache *cache.Dir
	// Shared, when set, is used in place of Cache: a local cache in front
	// of one other processes share, where each layer not yet cached is
	// claimed before it is analysed, so that no two processes analyse it.
	Shared *cache.Tier
	// Parallel bounds how many layers are analysed at once (default: CPUs).
	Parallel int
	// Progress, when set, is told about each layer as it starts and ends,
	// and about the bytes read from a layer as they are read (at most once
	// every ProgressBytes). Calls are serialised: Progress is never called
	// by two goroutines at once, so it may keep unsynchronised state, but
	// it is called from the layer goroutines and should return quickly.
	Progress func(Event)
}

// ProgressBytes is how many bytes of a layer are read between two byte
// events.
const ProgressBytes = 4 << 20

// Event reports the progress of one layer. A layer's start event has Done
// false and Bytes 0; byte events have Done false and Bytes > 0; its end
// event has Done true.
type Event struct {
	Layer  int
	Total  int
	Done   bool
	Cached bool
	// Bytes counts the bytes of the layer read so far, as the source
	// stores them (compressed blob bytes for a registry or layout; the
	// exported stream for Docker, Podman and root filesystems).
	Bytes int64
	// Size is the layer's stored size when the source knows it (0 when
	// unknown, and always for streamed exports).
	Size int64
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
	// Incomplete is true when part of the image could not be analysed
	// (an image analyzer panicked, a root filesystem held unreadable
	// entries): the warnings say what is missing.
	Incomplete bool
	// LayersCached counts the layers taken from the cache, LayersWalked
	// those read and analysed by this scan.
	LayersCached int
	LayersWalked int
	// Dropped counts, by reason, the findings and packages left out
	// because they describe what OS packages installed unchanged (see
	// internal/ownership).
	Dropped map[string]int
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
	opt.Progress = serialised(opt.Progress)
	n := len(meta.Layers)
	walked := make([]*layer.Walked, n)
	keys := make([]string, n)
	missing := 0
	for i, l := range meta.Layers {
		if l.DiffID == "" || (opt.Cache == nil && opt.Shared == nil) {
			missing++
			continue
		}
		keys[i] = cache.Key(l.DiffID, opt.Analyzers, opt.Limits)
		if w, ok := opt.lookup(ctx, keys[i]); ok {
			walked[i] = w
			opt.progress(Event{Layer: i, Total: n, Done: true, Cached: true, Size: l.Size})
		} else {
			missing++
		}
	}
	// errs[i] says why layer i could not be read completely; streamErr
	// why an export stream broke off (which layer it was in is unknown).
	errs := make([]error, n)
	var streamErr error
	// shared counts the layers other processes analysed while this scan
	// waited for them.
	var shared atomic.Int64
	if missing > 0 {
		var err error
		switch s := img.(type) {
		case source.RandomAccess:
			err = runRandom(ctx, s, walked, keys, errs, &shared, opt)
		case source.Streaming:
			streamErr, err = runStream(ctx, s, walked, keys, opt)
		default:
			err = fmt.Errorf("source %s cannot read layers", meta.Kind)
		}
		if err != nil {
			return nil, err
		}
	}
	res, owned := merge(meta, walked)
	res.LayersCached = n - missing + int(shared.Load())
	for _, w := range walked {
		if w != nil {
			res.LayersWalked++
		}
	}
	res.LayersWalked -= res.LayersCached
	var layerErrs []error
	for i, w := range walked {
		err := errs[i]
		switch {
		case w == nil && err == nil && streamErr != nil:
			err = streamErr
			res.Findings = append(res.Findings, layerFinding(meta, i, classOf(err), "layer-unreadable", "layer could not be read: "+err.Error()))
		case w == nil && err == nil:
			err = errors.New("layer missing from the image")
			res.Findings = append(res.Findings, layerFinding(meta, i, model.ClassIntegrity, "layer-missing", "layer named by the image configuration is missing from the image"))
		case err != nil:
			res.Findings = append(res.Findings, layerFinding(meta, i, classOf(err), "layer-unreadable", "layer could not be read completely: "+err.Error()))
		}
		if err != nil {
			layerErrs = append(layerErrs, fmt.Errorf("layer %d: %w", i, err))
		}
	}
	if w, ok := img.(source.Warner); ok {
		ws, incomplete := w.Warnings()
		res.Warnings = append(res.Warnings, ws...)
		res.Incomplete = res.Incomplete || incomplete
	}
	runImageAnalyzers(ctx, res, opt.ImageAnalyzers)
	res.Findings, res.Packages, res.Dropped = ownership.Apply(owned, res.Findings, res.Packages)
	sortFindings(res.Findings)
	if len(layerErrs) > 0 {
		return res, fmt.Errorf("%w: %w", ErrLayer, errors.Join(layerErrs...))
	}
	return res, nil
}

// lookup returns the cached result of the layer under key.
func (o *Options) lookup(ctx context.Context, key string) (*layer.Walked, bool) {
	if o.Shared != nil {
		return o.Shared.Get(ctx, key)
	}
	return o.Cache.Get(key)
}

// acquire returns another process's result for the layer under key, or the
// claim (if any) to analyse it under.
func (o *Options) acquire(ctx context.Context, key string) (*layer.Walked, *cache.Claim) {
	if o.Shared == nil || key == "" {
		return nil, nil
	}
	return o.Shared.Acquire(ctx, key)
}

func (o Options) progress(e Event) {
	if o.Progress != nil {
		o.Progress(e)
	}
}

// serialised wraps fn so that no two goroutines run it at once.
func serialised(fn func(Event)) func(Event) {
	if fn == nil {
		return nil
	}
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		fn(e)
	}
}

// progressReader reports the bytes read through it, at most once every
// ProgressBytes.
type progressReader struct {
	r        io.Reader
	opt      *Options
	ev       Event
	reported int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if len(b) > ProgressBytes/4 {
		b = b[:ProgressBytes/4] // so one large read does not skip events
	}
	n, err := p.r.Read(b)
	p.ev.Bytes += int64(n)
	if p.ev.Bytes-p.reported >= ProgressBytes {
		p.reported = p.ev.Bytes
		p.opt.progress(p.ev)
	}
	return n, err
}

// counted returns r wrapped to report its bytes as layer i's, or r itself
// without a Progress function.
func (o *Options) counted(r io.Reader, ev Event) (io.Reader, *progressReader) {
	if o.Progress == nil {
		return r, nil
	}
	p := &progressReader{r: r, opt: o, ev: ev}
	return p, p
}

func (p *progressReader) bytes() int64 {
	if p == nil {
		return 0
	}
	return p.ev.Bytes
}

// runRandom walks the uncached layers of img in parallel. A layer that
// cannot be read completely keeps what was gathered, is not cached, and its
// error goes to errs. A layer another process analyses meanwhile is taken
// from the shared cache and counted in shared.
func runRandom(ctx context.Context, img source.RandomAccess, walked []*layer.Walked, keys []string, errs []error, shared *atomic.Int64, opt Options) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Parallel)
	for i := range walked {
		if walked[i] != nil {
			continue
		}
		g.Go(func() error {
			ev := Event{Layer: i, Total: len(walked), Size: img.Meta().Layers[i].Size}
			w, claim := opt.acquire(gctx, keys[i])
			if w != nil {
				walked[i] = w
				shared.Add(1)
				ev.Done, ev.Cached = true, true
				opt.progress(ev)
				return nil
			}
			defer claim.Release(gctx)
			opt.progress(ev)
			w, n, err := walkLayer(gctx, img, i, ev, &opt)
			if gctx.Err() != nil {
				return gctx.Err()
			}
			walked[i], errs[i] = w, err
			if err == nil {
				opt.store(gctx, keys[i], w)
			}
			ev.Done, ev.Bytes = true, n
			opt.progress(ev)
			return nil
		})
	}
	return g.Wait()
}

// walkLayer walks layer i and returns what it gathered, the bytes read
// from the source and why the layer could not be read completely, if so.
func walkLayer(ctx context.Context, img source.RandomAccess, i int, ev Event, opt *Options) (*layer.Walked, int64, error) {
	rc, err := img.OpenLayer(ctx, i)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	r, pr := opt.counted(rc, ev)
	w, err := layer.Walk(ctx, r, opt.Analyzers, opt.Limits)
	if err == nil {
		return w, pr.bytes(), checkDiffID(img.Meta().Layers[i].DiffID, w.DiffID)
	}
	// A corrupt stream may be a tampered blob: read it to the end so its
	// digest is checked, and say so when that fails.
	if verr := drain(rc, opt.Limits.WithDefaults().MaxLayerBytes); errors.Is(verr, source.ErrDigestMismatch) {
		err = fmt.Errorf("%w (%w)", verr, err)
	}
	return w, pr.bytes(), err
}

// runStream walks every layer of an export stream in the order it holds
// them, identifying each by its diff ID. It returns the error that broke
// the stream off, if any, apart from a failure of the scan itself.
func runStream(ctx context.Context, img source.Streaming, walked []*layer.Walked, keys []string, opt Options) (error, error) {
	byDiffID := map[string]int{}
	for i, l := range img.Meta().Layers {
		byDiffID[l.DiffID] = i
	}
	seen := 0
	err := img.StreamLayers(ctx, func(r io.Reader) error {
		ev := Event{Layer: seen, Total: len(walked)}
		opt.progress(ev)
		seen++
		cr, pr := opt.counted(r, ev)
		w, err := layer.Walk(ctx, cr, opt.Analyzers, opt.Limits)
		if err != nil {
			return err
		}
		i, ok := byDiffID[w.DiffID]
		if !ok {
			return nil // a layer of another image in the same archive
		}
		if walked[i] == nil {
			walked[i] = w
			opt.store(ctx, keys[i], w)
		}
		opt.progress(Event{Layer: i, Total: len(walked), Done: true, Bytes: pr.bytes()})
		return nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return err, nil
}

// store caches a layer's result unless an analyzer marked it incomplete.
// A cache that cannot be written only costs time.
func (o *Options) store(ctx context.Context, key string, w *layer.Walked) {
	switch {
	case key == "" || w.Result.Incomplete:
	case o.Shared != nil:
		_ = o.Shared.Put(ctx, key, w)
	case o.Cache != nil:
		_ = o.Cache.Put(key, w)
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
	if errors.As(err, &de) || errors.Is(err, source.ErrDigestMismatch) {
		return model.ClassIntegrity
	}
	return model.ClassArchive
}

// drain reads the rest of a layer blob, at most limit bytes, so that a
// verifying reader checks its digest.
func drain(r io.Reader, limit int64) error {
	_, err := io.Copy(io.Discard, io.LimitReader(r, limit))
	return err
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

// runImageAnalyzers runs each image analyzer in turn. An error becomes a
// warning naming the analyzer; a panic too, and it marks the result
// incomplete, since the analyzer's findings are missing.
func runImageAnalyzers(ctx context.Context, res *Result, ias []analyzer.ImageAnalyzer) {
	if len(ias) == 0 {
		return
	}
	img := &analyzer.Image{
		Input: res.Meta.Input, Name: res.Meta.Name, Source: res.Meta.Kind, Digest: res.Meta.Digest,
		Config: res.Meta.Config, Layers: res.Layers, OS: res.OS, Packages: res.Packages, Files: res.Files,
		Exists: func(p string) bool { return res.View.Owner(p) >= 0 },
	}
	for _, ia := range ias {
		fs, err := analyzeImage(ctx, ia, img)
		var pe *panicError
		if errors.As(err, &pe) {
			res.Incomplete = true
		}
		if err != nil {
			res.Warnings = append(res.Warnings, ia.Name()+": "+err.Error())
			continue
		}
		res.Findings = append(res.Findings, fs...)
	}
}

// panicError is a panic of an image analyzer, recovered.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string {
	return fmt.Sprintf("image analyzer panicked (its checks are missing from this report): %v\n%s", e.value, e.stack)
}

// analyzeImage runs one image analyzer, turning a panic into an error so
// a bug triggered by a hostile configuration cannot take the scan down.
func analyzeImage(ctx context.Context, ia analyzer.ImageAnalyzer, img *analyzer.Image) (fs []model.Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			fs, err = nil, &panicError{value: p, stack: debug.Stack()}
		}
	}()
	return ia.AnalyzeImage(ctx, img)
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
