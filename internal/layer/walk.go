package layer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime/debug"
	"sort"
	"strings"

	"golang.org/x/sync/semaphore"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
)

// Index records what one layer does to the filesystem: the non-directory
// paths it adds or replaces, the paths it deletes (whiteouts) and the
// directories it makes opaque. Paths are clean and relative to the root.
type Index struct {
	Files     []string `json:"files,omitempty"`
	Whiteouts []string `json:"whiteouts,omitempty"`
	Opaque    []string `json:"opaque,omitempty"`
	// Entries counts every tar entry, directories and whiteouts included.
	Entries int `json:"entries"`
	// Bytes counts the uncompressed bytes of the layer.
	Bytes int64 `json:"bytes"`
}

// Has reports whether the layer adds or replaces the file at p.
func (ix *Index) Has(p string) bool {
	i := sort.SearchStrings(ix.Files, p)
	return i < len(ix.Files) && ix.Files[i] == p
}

// Walked is the outcome of walking one layer.
type Walked struct {
	Index  Index           `json:"index"`
	Result analyzer.Result `json:"result"`
	// DiffID is the sha256 digest of the uncompressed layer, computed while
	// walking; empty when the walk stopped early.
	DiffID string `json:"diff_id,omitempty"`
}

// ErrLimit marks errors caused by a configured limit.
var ErrLimit = errors.New("limit exceeded")

const whiteoutPrefix = ".wh."
const opaqueMarker = ".wh..wh..opq"

// Walk streams the layer in r once and feeds its entries to analyzers. The
// layer may be gzip, zstd or uncompressed. Hostile entries (paths that
// escape the root, links out of the root, absurd names) become archive
// findings in the result and are never handed to analyzers. Work that
// analyzers hand to the background (analyzer.Result.Go) runs while the walk
// goes on; Walk waits for it before it returns. Walk returns what it
// gathered even when it also returns an error (a truncated stream or an
// exceeded limit): the caller decides whether a partial result is usable.
func Walk(ctx context.Context, r io.Reader, analyzers []analyzer.Analyzer, lim Limits) (*Walked, error) {
	w := &Walked{}
	w.Result.InBackground()
	err := walk(ctx, r, analyzers, lim.WithDefaults(), w)
	w.Result.Wait()
	if err == nil && ctx.Err() != nil {
		// The deadline passed during the last entries or the background
		// work: analyzers may have cut their work short without saying so.
		w.Result.Incomplete = true
	}
	sort.Strings(w.Index.Files)
	w.Index.Files = compactStrings(w.Index.Files)
	return w, err
}

// walk reads the layer into w.
func walk(ctx context.Context, r io.Reader, analyzers []analyzer.Analyzer, lim Limits, w *Walked) error {
	plain, closeFn, err := Decompress(r)
	if err != nil {
		return err
	}
	defer closeFn()
	counted := &countingReader{r: plain, limit: lim.MaxLayerBytes}
	defer func() { w.Index.Bytes = counted.n }()
	hash := sha256.New()
	tr := tar.NewReader(io.TeeReader(counted, hash))
	needs := make([]analyzer.Need, len(analyzers))
	var small []byte // this walk's buffer for files up to smallFileBytes
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar entry %d: %w", w.Index.Entries+1, err)
		}
		w.Index.Entries++
		if w.Index.Entries > lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries in one layer", ErrLimit, lim.MaxEntries)
		}
		e, ok := entryOf(hdr, lim, &w.Result)
		if !ok {
			continue
		}
		dir, base := path.Split(e.Path)
		if strings.HasPrefix(base, whiteoutPrefix) {
			if base == opaqueMarker {
				w.Index.Opaque = append(w.Index.Opaque, strings.TrimSuffix(dir, "/"))
			} else {
				w.Index.Whiteouts = append(w.Index.Whiteouts, dir+base[len(whiteoutPrefix):])
			}
			continue
		}
		if !e.Mode.IsDir() {
			w.Index.Files = append(w.Index.Files, e.Path)
		}
		most := analyzer.Skip
		for i, a := range analyzers {
			needs[i] = a.Need(&e)
			most = max(most, needs[i])
		}
		if most == analyzer.Skip {
			continue
		}
		f := analyzer.File{Entry: e}
		if most == analyzer.Content && e.IsRegular() {
			if err := readAndAnalyze(ctx, tr, &f, lim, &small, analyzers, needs, &w.Result); err != nil {
				return err
			}
			continue
		}
		analyzeAll(ctx, &f, analyzers, needs, &w.Result)
	}
	// Read the end-of-archive padding too, so the digest covers every byte.
	if _, err := io.Copy(hash, counted); err != nil {
		return fmt.Errorf("reading past the end of the archive: %w", err)
	}
	w.DiffID = "sha256:" + hex.EncodeToString(hash.Sum(nil))
	return nil
}

// smallFileBytes is the size up to which a file is read into the walk's own
// buffer, reused from file to file.
const smallFileBytes = 1 << 20

// largeBudgetBytes bounds the memory held in large-file buffers at once, by
// every walk of the process together. A larger file gets a heap buffer of
// its own while the budget has room for it; otherwise (the budget is taken
// by other walks, or the file is larger than all of it) the file is spilled
// to a temporary file mapped into memory, and the soft memory limit makes
// room for the mapping (see mapped). A walk never waits for another.
const largeBudgetBytes = 32 << 20

var largeBudget = semaphore.NewWeighted(largeBudgetBytes)

// readAndAnalyze reads a regular file's content (up to the per-file limit)
// once and hands it to every analyzer that wants it.
func readAndAnalyze(ctx context.Context, r io.Reader, f *analyzer.File, lim Limits, small *[]byte, analyzers []analyzer.Analyzer, needs []analyzer.Need, res *analyzer.Result) error {
	n := min(f.Size, lim.MaxFileBytes)
	if int64(cap(*small)) < min(n, smallFileBytes) {
		*small = make([]byte, smallFileBytes)
	}
	var buf []byte
	switch {
	case n <= smallFileBytes:
		buf = (*small)[:n]
	case largeBudget.TryAcquire(n):
		defer largeBudget.Release(n)
		buf = make([]byte, n)
	default:
		data, release, err := spill(r, n, (*small)[:cap(*small)])
		switch {
		case errors.Is(err, errNoTempFile):
			// Without a temporary file, bounded memory costs waiting:
			// the file's beginning, up to the whole budget, is read
			// into memory once the budget has room for it.
			w := min(n, largeBudgetBytes)
			if err := largeBudget.Acquire(ctx, w); err != nil {
				return fmt.Errorf("reading %s: %w", f.Path, err)
			}
			defer largeBudget.Release(w)
			buf = make([]byte, w)
			if w < n {
				res.Warn(f.Path, fmt.Sprintf("only the first %d bytes analysed: %v", w, err))
				res.Incomplete = true
			}
		case errors.Is(err, errSpill):
			// The rest of the file is skipped by the tar reader; the
			// machine, not the layer, is to blame.
			res.Warn(f.Path, fmt.Sprintf("%d bytes not analysed: %v", f.Size, err))
			res.Incomplete = true
			return nil
		case err != nil:
			return fmt.Errorf("reading %s: %w", f.Path, err)
		default:
			defer release()
			// The mapping is read-only: an analyzer that wrote to it
			// would fault, which must be a panic it is blamed for, not
			// a crash.
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			f.Content = data
			f.Truncated = f.Size > n
			analyzeAll(ctx, f, analyzers, needs, res)
			return nil
		}
	}
	got, err := io.ReadFull(r, buf)
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Path, err)
	}
	f.Content = buf[:got]
	f.Truncated = f.Size > int64(got)
	analyzeAll(ctx, f, analyzers, needs, res)
	return nil
}

// analyzeAll hands f to each analyzer according to its need.
func analyzeAll(ctx context.Context, f *analyzer.File, analyzers []analyzer.Analyzer, needs []analyzer.Need, res *analyzer.Result) {
	for i, a := range analyzers {
		if needs[i] == analyzer.Skip {
			continue
		}
		g := *f
		if needs[i] == analyzer.Header {
			g.Content, g.Truncated = nil, false
		}
		if err := analyze(ctx, a, &g, res); err != nil {
			res.Warn(f.Path, a.Name()+": "+err.Error())
			if stoppedByTime(ctx, err) {
				// Out of time is not a property of the layer: whatever
				// the analyzer says, the result must not be cached.
				res.Incomplete = true
			}
		}
	}
}

// analyze runs one analyzer on one file, turning a panic into an error so a
// bug triggered by hostile content cannot take the scan down.
func analyze(ctx context.Context, a analyzer.Analyzer, f *analyzer.File, r *analyzer.Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("analyzer panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return a.Analyze(ctx, f, r)
}

// stoppedByTime reports whether an analyzer's error comes from a deadline
// or a cancellation (its own or the walk's) rather than from the file.
func stoppedByTime(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded)
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// entryOf turns a tar header into an Entry, or records an archive finding and
// reports false when the entry must not be used.
func entryOf(hdr *tar.Header, lim Limits, r *analyzer.Result) (analyzer.Entry, bool) {
	name := hdr.Name
	if len(name) > lim.MaxPathBytes {
		r.Findings = append(r.Findings, archiveFinding("path-too-long", model.Low, "entry name longer than the limit; entry skipped", truncate(name, 200)))
		return analyzer.Entry{}, false
	}
	p, ok := CleanPath(name)
	if !ok {
		r.Findings = append(r.Findings, archiveFinding("path-traversal", model.High, "entry name escapes the image root; entry skipped", name))
		return analyzer.Entry{}, false
	}
	if p == "" {
		return analyzer.Entry{}, false // the root itself
	}
	if strings.Count(p, "/")+1 > lim.MaxPathDepth {
		r.Findings = append(r.Findings, archiveFinding("path-too-deep", model.Low, "entry name nested deeper than the limit; entry skipped", truncate(p, 200)))
		return analyzer.Entry{}, false
	}
	e := analyzer.Entry{Path: p, Mode: hdr.FileInfo().Mode(), UID: hdr.Uid, GID: hdr.Gid, Size: hdr.Size}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		e.Linkname = hdr.Linkname
		if !path.IsAbs(hdr.Linkname) {
			if _, ok := CleanPath(path.Join(path.Dir(p), hdr.Linkname)); !ok {
				r.Findings = append(r.Findings, archiveFinding("symlink-escape", model.Medium, "symbolic link points outside the image root (never followed)", p+" -> "+hdr.Linkname))
			}
		}
		e.Size = 0
	case tar.TypeLink:
		t, ok := CleanPath(hdr.Linkname)
		if !ok || t == "" {
			r.Findings = append(r.Findings, archiveFinding("hardlink-escape", model.High, "hard link points outside the image root; entry skipped", p+" -> "+hdr.Linkname))
			return analyzer.Entry{}, false
		}
		e.HardLink = t
		e.Size = 0
	case tar.TypeReg, tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		if hdr.Typeflag == tar.TypeRegA {
			break
		}
		return analyzer.Entry{}, false // PAX/GNU metadata types are handled by archive/tar
	}
	if e.Size < 0 {
		e.Size = 0
	}
	return e, true
}

// CleanPath turns an archive entry name into a clean path relative to the
// root ("" for the root itself). It reports false when the name climbs out
// of the root with "..". Leading "/" and "./" are dropped, as container
// runtimes do.
func CleanPath(name string) (string, bool) {
	rel := strings.TrimLeft(name, "/")
	// Lexically resolve without anchoring to "/" so ".." at the top is seen.
	depth := 0
	for _, el := range strings.Split(rel, "/") {
		switch el {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", false
			}
		default:
			depth++
		}
	}
	c := path.Clean("/" + rel)
	return strings.TrimPrefix(c, "/"), true
}

func archiveFinding(id string, sev model.Severity, title, where string) model.Finding {
	return model.Finding{
		Class:    model.ClassArchive,
		ID:       "archive-" + id,
		Title:    title,
		Severity: sev,
		Location: where,
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, fmt.Errorf("%w: layer larger than %d uncompressed bytes", ErrLimit, c.limit)
	}
	if rem := c.limit - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
