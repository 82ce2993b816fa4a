// Package cache keeps each layer's analysis on disk, keyed by the layer's
// diff ID and the names and versions of the analyzers (and limits) that
// produced it, so an unchanged layer is never read twice.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

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

// Open returns a cache in dir, creating it if needed.
func Open(dir string) (*Dir, error) {
	if dir == "" {
		return &Dir{}, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "layers"), 0o755); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	return &Dir{root: dir}, nil
}

// DefaultDir is $XDG_CACHE_HOME/customs or ~/.cache/customs.
func DefaultDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "customs-cache")
	}
	return filepath.Join(d, "customs")
}

// Key derives the cache key of a layer analysed by analyzers under limits.
func Key(diffID string, analyzers []analyzer.Analyzer, lim layer.Limits) string {
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
	fmt.Fprintf(h, "v%d\n%s\n%s\n%+v\n", formatVersion, diffID, strings.Join(parts, ","), lim.WithDefaults())
	return hex.EncodeToString(h.Sum(nil))
}

func (d *Dir) path(key string) string {
	return filepath.Join(d.root, "layers", key[:2], key+".json.gz")
}

// Get returns the stored layer for key, or false.
func (d *Dir) Get(key string) (*layer.Walked, bool) {
	if d.root == "" {
		return nil, false
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, false
	}
	var w layer.Walked
	if err := json.NewDecoder(zr).Decode(&w); err != nil {
		return nil, false
	}
	return &w, true
}

// Put stores w under key atomically: a reader sees the old entry or the new
// one, never half of one.
func (d *Dir) Put(key string, w *layer.Walked) error {
	if d.root == "" {
		return nil
	}
	p := d.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw, _ := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(w); err != nil {
		tmp.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// Clean removes every cached layer and returns how many it removed.
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
	return n, os.RemoveAll(filepath.Join(d.root, "layers"))
}
