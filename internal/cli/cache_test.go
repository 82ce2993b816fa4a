package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/testimage"
)

// cachedResults counts the layer and image results stored under dir.
func cachedResults(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(p, ".json.gz") || strings.HasSuffix(p, ".gob.gz")) {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCachePrune: a scan stores its results and, on its way out, prunes
// the cache (at most once a day: the stamp says when); `customs cache
// prune` empties it to the size asked; the next scan fills it again.
func TestCachePrune(t *testing.T) {
	img := writeLayout(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/hostname", "cached\n"))))
	dir := filepath.Join(t.TempDir(), "cache")
	scan := func() {
		if code, _, stderr := runMain(t, "image", img, "--cache-dir", dir, "--db-dir", "builtin:sample", "--scanners", "secret,config", "-f", "json"); code != ExitOK {
			t.Fatalf("scan: exit %d: %s", code, stderr)
		}
	}
	scan()
	if n := cachedResults(t, dir); n < 2 {
		t.Fatalf("%d cached results after a scan, want the layer's and the image's", n)
	}
	if _, err := os.Stat(filepath.Join(dir, ".pruned")); err != nil {
		t.Errorf("the scan did not prune the cache on its way out: %v", err)
	}
	code, out, stderr := runMain(t, "cache", "prune", "--cache-dir", dir, "--max-mb", "0")
	if code != ExitOK || !strings.HasPrefix(string(out), "removed ") || cachedResults(t, dir) != 0 {
		t.Fatalf("cache prune: exit %d, %q %s; %d results left", code, out, stderr, cachedResults(t, dir))
	}
	scan()
	if n := cachedResults(t, dir); n < 2 {
		t.Errorf("%d cached results after a scan that followed the prune", n)
	}
}
