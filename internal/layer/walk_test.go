package layer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// recorder is a real analyzer that records what the engine hands it.
type recorder struct {
	mu      sync.Mutex
	need    func(e *analyzer.Entry) analyzer.Need
	seen    map[string]string // path -> content ("" for header only)
	headers map[string]analyzer.Entry
}

func newRecorder(need func(e *analyzer.Entry) analyzer.Need) *recorder {
	return &recorder{need: need, seen: map[string]string{}, headers: map[string]analyzer.Entry{}}
}

func (r *recorder) Name() string                         { return "recorder" }
func (r *recorder) Version() int                         { return 1 }
func (r *recorder) Need(e *analyzer.Entry) analyzer.Need { return r.need(e) }
func (r *recorder) Analyze(_ context.Context, f *analyzer.File, res *analyzer.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[f.Path] = string(f.Content)
	r.headers[f.Path] = f.Entry
	return nil
}

func all(*analyzer.Entry) analyzer.Need { return analyzer.Content }

func walk(t *testing.T, data []byte, lim layer.Limits, as ...analyzer.Analyzer) (*layer.Walked, error) {
	t.Helper()
	return layer.Walk(context.Background(), bytes.NewReader(data), as, lim)
}

func TestWalkCompressions(t *testing.T) {
	plain := testimage.Tar(t, testimage.Dir("etc/"), testimage.File("etc/os-release", "ID=debian\n"), testimage.File("./usr/bin/x", "bin"))
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for name, data := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		t.Run(name, func(t *testing.T) {
			rec := newRecorder(all)
			w, err := walk(t, data, layer.Limits{}, rec)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.seen["etc/os-release"]; got != "ID=debian\n" {
				t.Errorf("content = %q", got)
			}
			if _, ok := rec.seen["usr/bin/x"]; !ok {
				t.Errorf("./usr/bin/x not normalised: %v", rec.seen)
			}
			if want := []string{"etc/os-release", "usr/bin/x"}; strings.Join(w.Index.Files, ",") != strings.Join(want, ",") {
				t.Errorf("index files = %v", w.Index.Files)
			}
			// The diff ID is the digest of the uncompressed tar, whatever the compression.
			if want := digestOf(plain); w.DiffID != want {
				t.Errorf("diff ID %s, want %s", w.DiffID, want)
			}
		})
	}
}

func TestWalkReadsEachFileOnceForAllAnalyzers(t *testing.T) {
	data := testimage.Tar(t, testimage.File("a", "alpha"), testimage.File("b", "beta"))
	content := newRecorder(all)
	header := newRecorder(func(*analyzer.Entry) analyzer.Need { return analyzer.Header })
	picky := newRecorder(func(e *analyzer.Entry) analyzer.Need {
		if e.Path == "b" {
			return analyzer.Content
		}
		return analyzer.Skip
	})
	if _, err := walk(t, data, layer.Limits{}, content, header, picky); err != nil {
		t.Fatal(err)
	}
	if content.seen["a"] != "alpha" || content.seen["b"] != "beta" {
		t.Errorf("content analyzer saw %v", content.seen)
	}
	if header.seen["a"] != "" || len(header.seen) != 2 || header.headers["a"].Size != 5 {
		t.Errorf("header analyzer saw %v", header.seen)
	}
	if _, ok := picky.seen["a"]; ok || picky.seen["b"] != "beta" {
		t.Errorf("picky analyzer saw %v", picky.seen)
	}
}

func TestWalkWhiteouts(t *testing.T) {
	data := testimage.Tar(t, testimage.Whiteout("etc/old"), testimage.Opaque("var/lib/x"), testimage.File("etc/new", "n"))
	rec := newRecorder(all)
	w, err := walk(t, data, layer.Limits{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(w.Index.Whiteouts, ",") != "etc/old" || strings.Join(w.Index.Opaque, ",") != "var/lib/x" {
		t.Errorf("whiteouts %v opaque %v", w.Index.Whiteouts, w.Index.Opaque)
	}
	for p := range rec.seen {
		if strings.Contains(p, ".wh.") {
			t.Errorf("whiteout marker %s handed to an analyzer", p)
		}
	}
}

func findingIDs(w *layer.Walked) []string {
	var ids []string
	for _, f := range w.Result.Findings {
		ids = append(ids, f.ID)
		if f.Class != model.ClassArchive {
			panic("not an archive finding")
		}
	}
	return ids
}

func TestWalkHostileEntries(t *testing.T) {
	deep := strings.Repeat("d/", 300) + "f"
	data := testimage.Tar(t,
		testimage.File("../../etc/passwd", "evil"),
		testimage.File("/abs/ok", "fine"),
		testimage.File("a/../../escape", "evil"),
		testimage.Symlink("lib/link", "../../../../etc/shadow"),
		testimage.Symlink("lib/abs", "/etc/shadow"),
		testimage.Hardlink("hl", "../../outside"),
		testimage.File(deep, "deep"),
		testimage.File("bad\xff\xfename", "latin1"),
	)
	rec := newRecorder(all)
	w, err := walk(t, data, layer.Limits{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(findingIDs(w), ",")
	want := "archive-path-traversal,archive-path-traversal,archive-symlink-escape,archive-hardlink-escape,archive-path-too-deep"
	if got != want {
		t.Errorf("findings %s, want %s", got, want)
	}
	if rec.seen["abs/ok"] != "fine" || rec.seen["bad\xff\xfename"] != "latin1" {
		t.Errorf("ordinary entries not analysed: %v", keys(rec.seen))
	}
	for p := range rec.seen {
		if strings.HasPrefix(p, "..") || strings.HasPrefix(p, "/") || p == "hl" || strings.HasPrefix(p, "d/d/d") {
			t.Errorf("hostile entry %q reached an analyzer", p)
		}
	}
	if _, ok := rec.seen["lib/abs"]; !ok {
		t.Error("absolute symlink inside the image was dropped")
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestWalkLimits(t *testing.T) {
	big := strings.Repeat("x", 10000)
	data := testimage.Tar(t, testimage.File("big", big), testimage.File("small", "s"))
	rec := newRecorder(all)
	if _, err := walk(t, data, layer.Limits{MaxFileBytes: 100}, rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.seen["big"]) != 100 || rec.seen["small"] != "s" {
		t.Errorf("per-file limit: got %d bytes of big", len(rec.seen["big"]))
	}
	if _, err := walk(t, data, layer.Limits{MaxLayerBytes: 4096}, newRecorder(all)); !errors.Is(err, layer.ErrLimit) {
		t.Errorf("layer byte limit: err = %v", err)
	}
	if _, err := walk(t, data, layer.Limits{MaxEntries: 1}, newRecorder(all)); !errors.Is(err, layer.ErrLimit) {
		t.Errorf("entry limit: err = %v", err)
	}
}

func TestWalkDecompressionBomb(t *testing.T) {
	// 1 GiB of zeros inside one file compresses to about 1 MiB.
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	tw := testimage.TarWriter(zw)
	tw.Header("bomb", 1<<30)
	io.CopyN(tw, zeroReader{}, 1<<30)
	tw.Close()
	zw.Close()
	_, err := walk(t, gz.Bytes(), layer.Limits{MaxLayerBytes: 64 << 20}, newRecorder(all))
	if !errors.Is(err, layer.ErrLimit) {
		t.Fatalf("bomb not stopped by the layer limit: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestWalkCorruptStreams(t *testing.T) {
	plain := testimage.Tar(t, testimage.File("a", strings.Repeat("a", 5000)), testimage.File("b", "b"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	cases := map[string][]byte{
		"truncated tar":  plain[:1000],
		"truncated gzip": gz.Bytes()[:gz.Len()/2],
		"garbage gzip":   append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0xAA}, 200)...),
		"xz":             {0xfd, '7', 'z', 'X', 'Z', 0x00, 1, 2},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := walk(t, data, layer.Limits{}, newRecorder(all)); err == nil {
				t.Error("no error for a corrupt layer")
			}
		})
	}
}

type panicky struct{}

func (panicky) Name() string                       { return "panicky" }
func (panicky) Version() int                       { return 1 }
func (panicky) Need(*analyzer.Entry) analyzer.Need { return analyzer.Content }
func (panicky) Analyze(context.Context, *analyzer.File, *analyzer.Result) error {
	panic("boom")
}

func TestWalkSurvivesAnalyzerPanic(t *testing.T) {
	rec := newRecorder(all)
	w, err := walk(t, testimage.Tar(t, testimage.File("a", "x")), layer.Limits{}, panicky{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if rec.seen["a"] != "x" || len(w.Result.Warnings) != 1 || !strings.Contains(w.Result.Warnings[0], "panicked") {
		t.Errorf("warnings %v, seen %v", w.Result.Warnings, rec.seen)
	}
}

func TestWalkManyEntries(t *testing.T) {
	var entries []testimage.Entry
	for i := 0; i < 120000; i++ {
		entries = append(entries, testimage.File("many/"+strings.Repeat("x", i%7)+itoa(i), ""))
	}
	w, err := walk(t, testimage.Tar(t, entries...), layer.Limits{}, newRecorder(func(*analyzer.Entry) analyzer.Need { return analyzer.Skip }))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Index.Files) != 120000 {
		t.Errorf("indexed %d files", len(w.Index.Files))
	}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// timed fails on one file as an analyzer whose time budget ran out does.
type timed struct {
	recorder
	err error
}

func (t *timed) Analyze(ctx context.Context, f *analyzer.File, res *analyzer.Result) error {
	if f.Path == "slow" {
		return t.err
	}
	return t.recorder.Analyze(ctx, f, res)
}

func TestDeadlinesMarkTheResultIncomplete(t *testing.T) {
	data := testimage.Tar(t, testimage.File("a", "1"), testimage.File("slow", "2"), testimage.File("z", "3"))
	for _, tc := range []struct {
		name       string
		err        error
		incomplete bool
	}{
		{"deadline", fmt.Errorf("guessing stopped: %w", context.DeadlineExceeded), true},
		{"cancelled", fmt.Errorf("stopped: %w", context.Canceled), true},
		{"i/o deadline", fmt.Errorf("clamd: %w", os.ErrDeadlineExceeded), true},
		{"malformed file", errors.New("malformed database"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &timed{recorder: *newRecorder(all), err: tc.err}
			w, err := walk(t, data, layer.Limits{}, a)
			if err != nil {
				t.Fatal(err)
			}
			if w.Result.Incomplete != tc.incomplete {
				t.Errorf("incomplete = %v, want %v", w.Result.Incomplete, tc.incomplete)
			}
			if len(w.Result.Warnings) != 1 || !strings.HasPrefix(w.Result.Warnings[0], "slow: recorder: ") {
				t.Errorf("warnings %q", w.Result.Warnings)
			}
			if a.seen["z"] != "3" {
				t.Error("the walk stopped at the failing file")
			}
		})
	}
}

// meeting is an analyzer that waits, inside Analyze, until every walk it
// was given to has reached it: it finishes only if the walks analyse their
// large files at the same time.
type meeting struct{ wg *sync.WaitGroup }

func (meeting) Name() string { return "meeting" }
func (meeting) Version() int { return 1 }
func (meeting) Need(e *analyzer.Entry) analyzer.Need {
	if e.Size > 2<<20 {
		return analyzer.Content
	}
	return analyzer.Skip
}
func (m meeting) Analyze(ctx context.Context, f *analyzer.File, _ *analyzer.Result) error {
	m.wg.Done()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bigLayer streams a layer holding one file of size bytes at p, each byte
// fill, without holding it in memory.
func bigLayer(p string, size int64, fill byte) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o755, Size: size, Typeflag: tar.TypeReg}); err != nil {
			pw.CloseWithError(err)
			return
		}
		chunk := bytes.Repeat([]byte{fill}, 1<<20)
		for left := size; left > 0; {
			n, err := tw.Write(chunk[:min(int64(len(chunk)), left)])
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			left -= int64(n)
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

// TestLargeFilesInParallel: two layers with a large file each are analysed
// side by side, neither waiting for the other's file to be done, even when
// together the files are larger than the in-memory budget.
func TestLargeFilesInParallel(t *testing.T) {
	for _, size := range []int64{5 << 20, 40 << 20} {
		t.Run(fmt.Sprint(size>>20, "MiB"), func(t *testing.T) {
			var wg sync.WaitGroup
			wg.Add(2)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			errs := make(chan error, 2)
			for i := range 2 {
				go func() {
					w, err := layer.Walk(ctx, bigLayer("opt/big.bin", size, byte('a'+i)), []analyzer.Analyzer{meeting{&wg}}, layer.Limits{})
					if err == nil && len(w.Result.Warnings) > 0 {
						err = errors.New(strings.Join(w.Result.Warnings, "; "))
					}
					errs <- err
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("a walk waited for the other: %v", err)
				}
			}
		})
	}
}

// checker checks that it sees every byte of the large files it asks for,
// and (scribble) writes into their content.
type checker struct {
	scribble bool
	sizes    map[string]int
}

func (*checker) Name() string { return "checker" }
func (*checker) Version() int { return 1 }
func (*checker) Need(e *analyzer.Entry) analyzer.Need {
	if e.Size > 1<<20 {
		return analyzer.Content
	}
	return analyzer.Skip
}
func (c *checker) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if c.scribble {
		f.Content[0] = 'x'
	}
	if n := bytes.Count(f.Content, f.Content[:1]); n != len(f.Content) {
		r.Warn(f.Path, fmt.Sprintf("%d of %d bytes as expected", n, len(f.Content)))
	}
	c.sizes[f.Path] = len(f.Content)
	return nil
}

// TestFilesOverTheBudget: a file larger than the in-memory budget is read
// whole up to the per-file limit; an analyzer writing into its read-only
// content panics (a warning), it does not crash the process.
func TestFilesOverTheBudget(t *testing.T) {
	const size = 70 << 20
	c := &checker{sizes: map[string]int{}}
	w, err := layer.Walk(context.Background(), bigLayer("opt/big.bin", size, 'z'), []analyzer.Analyzer{c}, layer.Limits{})
	if err != nil || len(w.Result.Warnings) > 0 || w.Result.Incomplete {
		t.Fatalf("walk: %v, warnings %q, incomplete %v", err, w.Result.Warnings, w.Result.Incomplete)
	}
	if c.sizes["opt/big.bin"] != size {
		t.Fatalf("analyzer saw %d bytes, want %d", c.sizes["opt/big.bin"], size)
	}
	c = &checker{sizes: map[string]int{}}
	w, err = layer.Walk(context.Background(), bigLayer("opt/big.bin", size, 'z'), []analyzer.Analyzer{c}, layer.Limits{MaxFileBytes: 66 << 20})
	if err != nil || c.sizes["opt/big.bin"] != 66<<20 {
		t.Fatalf("with a 66 MiB per-file limit: %v, %d bytes seen", err, c.sizes["opt/big.bin"])
	}
	c = &checker{scribble: true, sizes: map[string]int{}}
	w, err = layer.Walk(context.Background(), bigLayer("opt/big.bin", size, 'z'), []analyzer.Analyzer{c}, layer.Limits{})
	if err != nil || len(w.Result.Warnings) != 1 || !strings.Contains(w.Result.Warnings[0], "panicked") {
		t.Fatalf("scribbling analyzer: %v, warnings %q", err, w.Result.Warnings)
	}
}

// starter hands work to the background on the first file that waits until
// the second file of the layer has been analysed: it ends only if the walk
// goes on while the work runs.
type starter struct{ second chan struct{} }

func (starter) Name() string                         { return "starter" }
func (starter) Version() int                         { return 1 }
func (starter) Need(e *analyzer.Entry) analyzer.Need { return analyzer.Content }
func (s starter) Analyze(ctx context.Context, f *analyzer.File, r *analyzer.Result) error {
	switch f.Path {
	case "etc/first":
		r.Go(f.Path, "starter", func() func(*analyzer.Result) {
			select {
			case <-s.second:
				return func(r *analyzer.Result) { r.Warn("etc/first", "background work done") }
			case <-ctx.Done():
				return func(r *analyzer.Result) { r.Incomplete = true }
			}
		})
		r.Go(f.Path, "starter", func() func(*analyzer.Result) { panic("boom") })
	case "etc/second":
		close(s.second)
		r.Warn(f.Path, "walk went on")
	}
	return nil
}

// TestBackgroundWork: work an analyzer hands to the background runs while
// the walk reads the next files; Walk returns once it is done, with its
// outcome applied in the order it was started and a panic as a warning.
func TestBackgroundWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tarball := testimage.Tar(t, testimage.File("etc/first", "1"), testimage.File("etc/second", "2"))
	w, err := layer.Walk(ctx, bytes.NewReader(tarball), []analyzer.Analyzer{starter{make(chan struct{})}}, layer.Limits{})
	if err != nil || w.Result.Incomplete {
		t.Fatalf("walk: %v, incomplete %v (the walk waited for the background work)", err, w.Result.Incomplete)
	}
	want := []string{"etc/second: walk went on", "etc/first: background work done", "etc/first: starter: analyzer panicked: boom"}
	if len(w.Result.Warnings) != 3 || w.Result.Warnings[0] != want[0] || w.Result.Warnings[1] != want[1] || !strings.HasPrefix(w.Result.Warnings[2], want[2]) {
		t.Fatalf("warnings %q, want %q", w.Result.Warnings, want)
	}
}

// limitSeer records the soft memory limit while it analyses a file.
type limitSeer struct{ limit int64 }

func (*limitSeer) Name() string                         { return "limit" }
func (*limitSeer) Version() int                         { return 1 }
func (*limitSeer) Need(e *analyzer.Entry) analyzer.Need { return analyzer.Content }
func (l *limitSeer) Analyze(context.Context, *analyzer.File, *analyzer.Result) error {
	l.limit = debug.SetMemoryLimit(-1)
	return nil
}

// TestSpilledFilesLowerTheMemoryLimit: while a spilled file is mapped, the
// soft memory limit is lowered by its size, to half of it at most, and
// restored once the file is done.
func TestSpilledFilesLowerTheMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(200 << 20)
	defer debug.SetMemoryLimit(before)
	for _, c := range []struct{ size, want int64 }{{40 << 20, 160 << 20}, {150 << 20, 100 << 20}} {
		l := &limitSeer{}
		if _, err := layer.Walk(context.Background(), bigLayer("opt/big.bin", c.size, 'm'), []analyzer.Analyzer{l}, layer.Limits{}); err != nil {
			t.Fatal(err)
		}
		if l.limit != c.want {
			t.Errorf("%d MiB file: limit %d MiB while mapped, want %d MiB", c.size>>20, l.limit>>20, c.want>>20)
		}
		if now := debug.SetMemoryLimit(-1); now != 200<<20 {
			t.Errorf("limit %d MiB after the walk, want it restored", now>>20)
		}
	}
}

// TestNoTemporaryDirectory: without a writable temporary directory a large
// file is still analysed, from memory: whole when it fits the budget, else
// its beginning, and the result is then not to be cached.
func TestNoTemporaryDirectory(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	for _, c := range []struct {
		size       int64
		incomplete bool
	}{{20 << 20, false}, {40 << 20, true}} {
		l := &checker{sizes: map[string]int{}}
		w, err := layer.Walk(context.Background(), bigLayer("opt/big.bin", c.size, 't'), []analyzer.Analyzer{l}, layer.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := int64(l.sizes["opt/big.bin"]); got != min(c.size, 32<<20) || w.Result.Incomplete != c.incomplete {
			t.Errorf("%d MiB file: %d bytes analysed, incomplete %v, warnings %q", c.size>>20, got, w.Result.Incomplete, w.Result.Warnings)
		}
	}
}
