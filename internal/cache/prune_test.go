package cache

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/layer"
)

// putLayer stores a layer result of about size bytes (random, so gzip
// keeps it that big) under a key made of c, last used age ago.
func putLayer(t *testing.T, d *Dir, c byte, size int, age time.Duration) (string, int64) {
	t.Helper()
	b := make([]byte, size/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat(string(c), 64)
	w := &layer.Walked{DiffID: "sha256:" + hex.EncodeToString(b)}
	if err := d.Put(key, w); err != nil {
		t.Fatal(err)
	}
	p := d.path("layers", key)
	when := time.Now().Add(-age)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return key, fi.Size()
}

// TestPrune: the least recently used results go until the rest fit; a
// result read lately counts as used; a temporary file of an interrupted
// write goes once stale; PruneDue walks the cache at most once a period.
func TestPrune(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	oldest, size := putLayer(t, d, 'a', 4000, 3*time.Hour)
	older, _ := putLayer(t, d, 'b', 4000, 2*time.Hour)
	recent, _ := putLayer(t, d, 'c', 4000, time.Hour)
	if _, ok := d.Get(oldest); !ok { // read now: the most recently used
		t.Fatal("a: not cached")
	}
	tmp := filepath.Join(filepath.Dir(d.path("layers", oldest)), ".tmp-123")
	if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(tmp, stale, stale); err != nil {
		t.Fatal(err)
	}

	removed, freed, err := d.Prune(2*size + size/2)
	if err != nil || removed != 1 || freed < size {
		t.Fatalf("pruned %d results, %d bytes (%v); want b alone", removed, freed, err)
	}
	for key, want := range map[string]bool{oldest: true, older: false, recent: true} {
		if _, ok := d.Get(key); ok != want {
			t.Errorf("%c: cached %v, want %v", key[0], ok, want)
		}
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("stale temporary file: %v", err)
	}

	if removed, _, err := d.PruneDue(0, time.Hour); removed != 2 || err != nil {
		t.Errorf("first PruneDue to 0 bytes: removed %d (%v), want 2", removed, err)
	}
	putLayer(t, d, 'd', 4000, 0)
	if removed, _, err := d.PruneDue(0, time.Hour); removed != 0 || err != nil {
		t.Errorf("PruneDue within the hour: removed %d (%v), want none", removed, err)
	}
	if removed, _, err := d.PruneDue(0, 0); removed != 1 || err != nil {
		t.Errorf("PruneDue once due: removed %d (%v), want 1", removed, err)
	}
}
