package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultMaxBytes is the size the cache is kept to when nothing else is
// said (--cache-max-mb).
const DefaultMaxBytes = 2 << 30

// pruneStamp is the file whose modification time says when the cache was
// last pruned.
const pruneStamp = ".pruned"

// staleTemp is how old a temporary file of an interrupted write must be
// before Prune removes it.
const staleTemp = time.Hour

// entry is one stored layer or image result.
type entry struct {
	path string
	size int64
	used time.Time
}

// Prune removes the least recently used layer and image results until the
// rest hold at most maxBytes, and temporary files that interrupted writes
// left behind; it returns how many results and bytes it removed. A result
// removed costs only its analysis, the next time a scan needs it. Results
// written by an older customs, which no key names any more, are the first
// to go.
func (d *Dir) Prune(maxBytes int64) (removed int, freed int64, err error) {
	if d.root == "" {
		return 0, 0, nil
	}
	var entries []entry
	now := time.Now()
	for _, kind := range []string{"layers", "images"} {
		err := filepath.WalkDir(filepath.Join(d.root, kind), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			fi, err := e.Info()
			if err != nil {
				return nil // removed meanwhile by another process
			}
			switch name := e.Name(); {
			case strings.HasPrefix(name, ".tmp-"):
				if now.Sub(fi.ModTime()) > staleTemp && os.Remove(p) == nil {
					freed += fi.Size()
				}
			case strings.HasSuffix(name, ".json.gz") || strings.HasSuffix(name, ".gob.gz"):
				entries = append(entries, entry{p, fi.Size(), fi.ModTime()})
			}
			return nil
		})
		if err != nil {
			return removed, freed, err
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return b.used.Compare(a.used) })
	var kept int64
	for _, e := range entries {
		if kept+e.size <= maxBytes {
			kept += e.size
			continue
		}
		if err := os.Remove(e.path); err == nil {
			removed++
			freed += e.size
		}
	}
	return removed, freed, nil
}

// PruneDue prunes the cache to maxBytes when it was last pruned longer
// than every ago (or never), so that a scan pays for the walk of the
// cache directory at most once in that time.
func (d *Dir) PruneDue(maxBytes int64, every time.Duration) (removed int, freed int64, err error) {
	if d.root == "" {
		return 0, 0, nil
	}
	stamp := filepath.Join(d.root, pruneStamp)
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < every {
		return 0, 0, nil
	}
	if err := os.WriteFile(stamp, nil, 0o600); err != nil {
		return 0, 0, err
	}
	now := time.Now()
	if err := os.Chtimes(stamp, now, now); err != nil {
		return 0, 0, err
	}
	return d.Prune(maxBytes)
}

// touch marks the result at p as used now, for Prune's least recently
// used order; a result that cannot be marked is only pruned sooner.
func touch(p string) {
	now := time.Now()
	_ = os.Chtimes(p, now, now)
}
