// Package cache keeps each layer's analysis on disk, keyed by the layer's
// diff ID and the names and versions of the analyzers (and limits) that
// produced it, so an unchanged layer is never read twice.
package cache

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
)

// formatVersion changes when the stored shape of a layer changes.
const formatVersion = 1

// Dir is a cache rooted at a directory. The zero value is a disabled cache
// that stores nothing.
type Dir struct {
	root string
}

// Open returns a cache in dir, creating it if needed (mode 0700). It
// refuses a directory that another user owns or that others may write to:
// whoever can write the cache decides what later scans report.
func Open(dir string) (*Dir, error) {
	if dir == "" {
		return &Dir{}, nil
	}
	if err := EnsureDir(dir); err != nil {
		return nil, err
	}
	if err := EnsureDir(filepath.Join(dir, "layers")); err != nil {
		return nil, err
	}
	return &Dir{root: dir}, nil
}

// EnsureDir creates dir (and its missing parents) with mode 0700 and checks
// that it is a directory owned by the current user that neither its group
// nor others may write to. Other stores kept in the cache directory (the
// registry database) use it too.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	return checkPrivate(dir)
}

// checkPrivate refuses a directory that is not the current user's alone.
func checkPrivate(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cache directory %s is not a directory", dir)
	}
	if uid, mine, ok := ownedByMe(fi); ok && !mine {
		return fmt.Errorf("cache directory %s belongs to another user (uid %d): refusing to use it; pass --cache-dir or set XDG_CACHE_HOME to a directory of your own", dir, uid)
	}
	if othersMayWrite(fi) {
		return fmt.Errorf("cache directory %s may be written by other users (mode %04o): refusing to use it; run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// DefaultDir is $XDG_CACHE_HOME/customs or ~/.cache/customs. Without a
// home directory it is a directory of the current user's own in the
// temporary directory (customs-cache-<uid>), never one shared by users.
func DefaultDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "customs-cache-"+currentUser())
	}
	return filepath.Join(d, "customs")
}

// currentUser names the current user for a path: the uid where there is
// one, else the user name.
func currentUser() string {
	if uid := os.Getuid(); uid >= 0 {
		return strconv.Itoa(uid)
	}
	if u, err := user.Current(); err == nil {
		return safeName(u.Username)
	}
	return "unknown"
}

// safeName keeps the letters, digits, '-', '_' and '.' of s.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// BuildVersion identifies the code of the running program: the VCS
// revision or the module version it was built from, else (a `go test` or
// `go run` build, a build from a modified tree) the Go build ID or the hash
// of the executable file. It is part of every cache key, so a changed
// analyzer never serves results of the old code. It is computed once.
var BuildVersion = sync.OnceValue(buildVersion)

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		v := bi.Main.Version
		switch {
		case dirty || strings.HasSuffix(v, "+dirty"):
			// A modified tree: the revision does not say what changed.
		case rev != "":
			return "vcs:" + rev
		case v != "" && v != "(devel)":
			return "module:" + bi.Main.Path + "@" + v
		}
	}
	if id := executableID(); id != "" {
		return id
	}
	return "unknown"
}

// buildIDPrefix starts the Go build ID the linker writes near the start of
// every Go executable's text.
var buildIDPrefix = []byte("\xff Go build ID: \"")

// executableID returns the Go build ID of the running executable (it
// changes with any change to the code or how it was built) or, when none
// is found, the sha256 of the whole file.
func executableID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	if id := elfBuildID(f); id != "" {
		return "buildid:" + id
	}
	head := make([]byte, 64<<10)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	if i := bytes.Index(head, buildIDPrefix); i >= 0 {
		rest := head[i+len(buildIDPrefix):]
		if j := bytes.IndexByte(rest, '"'); j > 0 && j < 512 {
			return "buildid:" + string(rest[:j])
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<40)); err != nil {
		return ""
	}
	return "exe:" + hex.EncodeToString(h.Sum(nil))
}

// elfBuildID reads the Go build ID note of an ELF executable ("" when
// there is none).
func elfBuildID(r io.ReaderAt) string {
	ef, err := elf.NewFile(r)
	if err != nil {
		return ""
	}
	sec := ef.Section(".note.go.buildid")
	if sec == nil || sec.Size > 4096 {
		return ""
	}
	b, err := sec.Data()
	if err != nil || len(b) < 16 {
		return ""
	}
	bo := ef.ByteOrder
	namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
	const goBuildIDNote = 4
	if namesz != 4 || typ != goBuildIDNote || string(b[12:16]) != "Go\x00\x00" || int(descsz) > len(b)-16 {
		return ""
	}
	return string(b[16 : 16+descsz])
}

// Key derives the cache key of a layer analysed by analyzers under limits
// by this build of the program.
func Key(diffID string, analyzers []analyzer.Analyzer, lim layer.Limits) string {
	return key(BuildVersion(), diffID, analyzers, lim)
}

func key(build, diffID string, analyzers []analyzer.Analyzer, lim layer.Limits) string {
	parts := make([]string, 0, len(analyzers))
	for _, a := range analyzers {
		part := fmt.Sprintf("%s@%d", a.Name(), a.Version())
		if c, ok := a.(analyzer.Configured); ok {
			part += "[" + c.ConfigKey() + "]"
		}
		parts = append(parts, part)
	}
	sort.Strings(parts)
	h := sha256.New()
	fmt.Fprintf(h, "v%d\n%s\n%s\n%s\n%+v\n", formatVersion, build, diffID, strings.Join(parts, ","), lim.WithDefaults())
	return hex.EncodeToString(h.Sum(nil))
}

func (d *Dir) path(kind, key string) string {
	return filepath.Join(d.root, kind, key[:2], key+".json.gz")
}

// imagePath is where the whole-image result for key is stored.
func (d *Dir) imagePath(key string) string {
	return filepath.Join(d.root, "images", key[:2], key+".gob.gz")
}

// Get returns the stored layer for key, or false.
func (d *Dir) Get(key string) (*layer.Walked, bool) {
	var w layer.Walked
	if !d.get(d.path("layers", key), &w, decode) {
		return nil, false
	}
	return &w, true
}

// Put stores w under key atomically: a reader sees the old entry or the new
// one, never half of one.
func (d *Dir) Put(key string, w *layer.Walked) error { return d.put(d.path("layers", key), w, encode) }

// get decodes the entry at p into v with dec.
func (d *Dir) get(p string, v any, dec func(io.Reader, any) error) bool {
	if d.root == "" {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if dec(f, v) != nil {
		return false
	}
	touch(p)
	return true
}

// put stores v, encoded with enc, at p.
func (d *Dir) put(p string, v any, enc func(any) ([]byte, error)) error {
	if d.root == "" {
		return nil
	}
	b, err := enc(v)
	if err != nil {
		return err
	}
	return d.write(p, b)
}

// write stores an encoded entry at p atomically.
func (d *Dir) write(p string, b []byte) error {
	if d.root == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// encode is the stored form of an entry: gzip JSON.
func encode(v any) ([]byte, error) {
	return gzipped(v, func(w io.Writer) encoder { return json.NewEncoder(w) })
}

// encoder is what json.Encoder and gob.Encoder have in common.
type encoder interface{ Encode(any) error }

// gzipped encodes v with the encoder newEnc makes, gzip-compressed.
func gzipped(v any, newEnc func(io.Writer) encoder) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := newEnc(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxDecoded bounds the JSON an entry may expand to.
const maxDecoded = 1 << 30

// decode reads an entry written by encode into v.
func decode(r io.Reader, v any) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	return json.NewDecoder(io.LimitReader(zr, maxDecoded)).Decode(v)
}

// Clean removes every cached layer and whole-image result and returns how
// many layers it removed.
func (d *Dir) Clean() (int, error) {
	if d.root == "" {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(filepath.Join(d.root, "layers"), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !e.IsDir() && strings.HasSuffix(p, ".json.gz") {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := os.RemoveAll(filepath.Join(d.root, "images")); err != nil {
		return 0, err
	}
	return n, os.RemoveAll(filepath.Join(d.root, "layers"))
}
