package scan_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testimage"
)

// lines is a small real analyzer: each line "name version" of a file named
// pkgs.txt is a package; each line containing "SECRET" is a finding.
type lines struct{ calls atomic.Int64 }

func (*lines) Name() string { return "lines" }
func (*lines) Version() int { return 1 }
func (*lines) Need(e *analyzer.Entry) analyzer.Need {
	if e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}
func (l *lines) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	l.calls.Add(1)
	sc := bufio.NewScanner(bytes.NewReader(f.Content))
	n := 0
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), "SECRET") {
			r.Findings = append(r.Findings, model.Finding{Class: model.ClassSecret, ID: "test-secret", Severity: model.High, Path: f.Path, Line: n})
		}
		if strings.HasSuffix(f.Path, "pkgs.txt") {
			name, ver, _ := strings.Cut(sc.Text(), " ")
			r.Packages = append(r.Packages, model.Package{Name: name, Version: ver, Type: "test", Path: f.Path})
		}
	}
	return nil
}

func threeLayers(t *testing.T) v1.Image {
	return testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("db/pkgs.txt", "a 1\nb 1\n"), testimage.File("app/key", "SECRET one"), testimage.File("etc/conf", "SECRET two")),
		testimage.Layer(t, testimage.File("db/pkgs.txt", "a 1\nb 2\nc 1\n"), testimage.Whiteout("app/key")),
		testimage.Layer(t, testimage.File("etc/conf", "clean now"), testimage.File("etc/other", "x")),
	)
}

func TestMergeAcrossLayers(t *testing.T) {
	img := threeLayers(t)
	res := testimage.Scan(t, img, []analyzer.Analyzer{&lines{}})
	diffIDs := diffIDsOf(t, img)
	got := map[string]model.Package{}
	for _, p := range res.Packages {
		got[p.Name] = p
	}
	want := map[string]struct {
		version string
		layer   int
	}{"a": {"1", 0}, "b": {"2", 1}, "c": {"1", 1}}
	if len(got) != len(want) {
		t.Fatalf("packages %v", res.Packages)
	}
	for name, w := range want {
		p := got[name]
		if p.Version != w.version || p.LayerDiffID != diffIDs[w.layer] {
			t.Errorf("%s: version %s layer %s, want %s layer %d", name, p.Version, p.LayerDiffID, w.version, w.layer)
		}
	}
	removed := map[string]bool{}
	for _, f := range res.Findings {
		removed[f.Path] = f.RemovedInFinal
		if f.LayerDiffID != diffIDs[0] {
			t.Errorf("finding in %s attributed to %s", f.Path, f.LayerDiffID)
		}
	}
	if !removed["app/key"] || !removed["etc/conf"] || len(removed) != 2 {
		t.Errorf("removed_in_final: %v", removed)
	}
	if res.View.Owner("etc/conf") != 2 || res.View.Owner("app/key") != -1 {
		t.Error("final view wrong")
	}
}

func diffIDsOf(t *testing.T, img v1.Image) []string {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

func TestCacheSkipsAnalysedLayers(t *testing.T) {
	img := threeLayers(t)
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(a *lines) *scan.Result {
		ra, err := testimage.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Run(context.Background(), ra, scan.Options{Analyzers: []analyzer.Analyzer{a}, Cache: c})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	cold, warm := &lines{}, &lines{}
	first := run(cold)
	second := run(warm)
	if cold.calls.Load() == 0 || warm.calls.Load() != 0 {
		t.Errorf("analyzer calls: cold %d, warm %d", cold.calls.Load(), warm.calls.Load())
	}
	if len(first.Packages) != len(second.Packages) || len(first.Findings) != len(second.Findings) {
		t.Errorf("cached result differs: %d/%d packages, %d/%d findings", len(first.Packages), len(second.Packages), len(first.Findings), len(second.Findings))
	}
	if n, err := c.Clean(); err != nil || n != 3 {
		t.Errorf("clean removed %d layers: %v", n, err)
	}
}

// tampered serves different bytes for a layer than its diff ID promises.
type tampered struct{ source.RandomAccess }

func (t tampered) OpenLayer(ctx context.Context, i int) (io.ReadCloser, error) {
	if i == 1 {
		return io.NopCloser(strings.NewReader(string(testimageTar))), nil
	}
	return t.RandomAccess.OpenLayer(ctx, i)
}

var testimageTar []byte

func TestTamperedLayerIsAnIntegrityFinding(t *testing.T) {
	testimageTar = testimage.Tar(t, testimage.File("x", "tampered"))
	ra, err := testimage.Open(threeLayers(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tampered{ra}, scan.Options{Analyzers: []analyzer.Analyzer{&lines{}}})
	if !errors.Is(err, scan.ErrLayer) {
		t.Fatalf("err = %v, want ErrLayer", err)
	}
	found := false
	for _, f := range res.Findings {
		if f.Class == model.ClassIntegrity && f.Location == "layers[1]" && f.Severity == model.Critical {
			found = true
		}
	}
	if !found {
		t.Errorf("no integrity finding: %+v", res.Findings)
	}
}

// flaky marks every layer result incomplete, as an analyzer whose daemon is down would.
type flaky struct{ lines }

func (f *flaky) Analyze(ctx context.Context, file *analyzer.File, r *analyzer.Result) error {
	r.Incomplete = true
	return f.lines.Analyze(ctx, file, r)
}

func TestIncompleteResultsAreNotCached(t *testing.T) {
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ra, err := testimage.Open(threeLayers(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scan.Run(context.Background(), ra, scan.Options{Analyzers: []analyzer.Analyzer{&flaky{}}, Cache: c}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Clean(); n != 0 {
		t.Errorf("%d incomplete layers cached", n)
	}
}

// panicky is an image analyzer with a bug a hostile configuration triggers.
type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) AnalyzeImage(context.Context, *analyzer.Image) ([]model.Finding, error) {
	var m map[string]int
	m["boom"]++ // assignment to entry in nil map
	return nil, nil
}

// envCheck reports one finding per environment variable.
type envCheck struct{}

func (envCheck) Name() string { return "env" }
func (envCheck) AnalyzeImage(_ context.Context, img *analyzer.Image) ([]model.Finding, error) {
	var fs []model.Finding
	for _, e := range img.Config.Config.Env {
		fs = append(fs, model.Finding{Class: model.ClassMisconfiguration, ID: "env", Severity: model.Low, Location: e})
	}
	return fs, nil
}

func TestImageAnalyzerPanicIsAWarning(t *testing.T) {
	img := testimage.Image(t, v1.Config{Env: []string{"A=1"}}, testimage.Layer(t, testimage.File("db/pkgs.txt", "a 1\n")))
	res := testimage.Scan(t, img, []analyzer.Analyzer{&lines{}}, panicky{}, envCheck{})
	if !res.Incomplete {
		t.Error("result not marked incomplete")
	}
	found := false
	for _, w := range res.Warnings {
		if strings.HasPrefix(w, "panicky: image analyzer panicked") && strings.Contains(w, "nil map") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning naming the analyzer: %q", res.Warnings)
	}
	// The analyzers after the panicking one still ran, and the layers were merged.
	if len(res.Findings) != 1 || res.Findings[0].Location != "A=1" {
		t.Errorf("findings %+v", res.Findings)
	}
	if len(res.Packages) != 1 {
		t.Errorf("packages %+v", res.Packages)
	}
	clean := testimage.Scan(t, img, []analyzer.Analyzer{&lines{}}, envCheck{})
	if clean.Incomplete || len(clean.Warnings) != 0 {
		t.Errorf("a clean scan is incomplete (%v) or warns %q", clean.Incomplete, clean.Warnings)
	}
}

// budgeted stops on its own time budget, as a password guesser or a YARA
// scan with a timeout does: it keeps what it found and returns the
// deadline error.
type budgeted struct{ lines }

func (b *budgeted) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	if err := b.lines.Analyze(ctx, f, r); err != nil {
		return err
	}
	if f.Path != "etc/conf" {
		return nil
	}
	bctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	<-bctx.Done()
	return fmt.Errorf("guessing stopped after 3 of 100 guesses: %w", bctx.Err())
}

func TestResultsCutShortByABudgetAreNotCached(t *testing.T) {
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := threeLayers(t)
	ra, err := testimage.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), ra, scan.Options{Analyzers: []analyzer.Analyzer{&budgeted{}}, Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Incomplete {
		t.Error("result not marked incomplete")
	}
	// etc/conf is in layers 0 and 2; layer 1 is complete and cached.
	if n, _ := c.Clean(); n != 1 {
		t.Errorf("%d layers cached, want only the one the budget did not cut", n)
	}
	// A scan whose deadline passes while it walks caches nothing either.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = scan.Run(ctx, ra, scan.Options{Analyzers: []analyzer.Analyzer{&lines{}}, Cache: c})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
	if n, _ := c.Clean(); n != 0 {
		t.Errorf("%d layers of a cancelled scan cached", n)
	}
}

// TestProgressIsSerialised runs many layers in parallel with a Progress
// function that keeps unsynchronised state, as the command line's does;
// under -race a concurrent call is a failure.
func TestProgressIsSerialised(t *testing.T) {
	var layers []v1.Layer
	for i := range 8 {
		// Each layer holds 5 MiB, so one byte event fires per layer.
		big := bytes.Repeat([]byte(fmt.Sprintf("layer %d\n", i)), (5<<20)/8)
		layers = append(layers, testimage.Layer(t, testimage.File(fmt.Sprintf("f%d", i), string(big))))
	}
	img := testimage.Image(t, v1.Config{}, layers...)
	ra, err := testimage.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	done, started, inside := 0, 0, 0
	maxBytes := map[int]int64{}
	byteEvents := 0
	progress := func(e scan.Event) {
		inside++
		if inside != 1 {
			t.Error("Progress called concurrently")
		}
		switch {
		case e.Done:
			done++
			if e.Bytes < 5<<20 {
				t.Errorf("layer %d done after %d bytes", e.Layer, e.Bytes)
			}
		case e.Bytes > 0:
			byteEvents++
			if e.Bytes < maxBytes[e.Layer] {
				t.Errorf("layer %d: bytes went back from %d to %d", e.Layer, maxBytes[e.Layer], e.Bytes)
			}
			maxBytes[e.Layer] = e.Bytes
		default:
			started++
		}
		time.Sleep(time.Millisecond) // widen the window for overlapping calls
		inside--
	}
	if _, err := scan.Run(context.Background(), ra, scan.Options{Analyzers: []analyzer.Analyzer{&lines{}}, Parallel: 8, Progress: progress}); err != nil {
		t.Fatal(err)
	}
	if started != 8 || done != 8 {
		t.Errorf("%d start and %d end events, want 8 each", started, done)
	}
	if byteEvents != 8 {
		t.Errorf("%d byte events, want 1 per layer (every %d bytes)", byteEvents, scan.ProgressBytes)
	}
}
