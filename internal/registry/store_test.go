package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// Two stores on one file (as two customs processes would have) observe
// tags at the same time: every observation is kept, and a tag moved by one
// is reported to the other.
func TestDriftStoresShareTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cache", "registry.db")
	var stores [2]*DriftStore
	for i := range stores {
		s, err := OpenDriftStore(p)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	const perStore = 100
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perStore {
				// Each store has tags of its own and shares "common".
				if _, err := s.Observe(fmt.Sprintf("reg.example/app:%d-%d", i, n), "sha256:aa"); err != nil {
					errs <- err
				}
				if _, err := s.Observe("reg.example/app:common", "sha256:cc"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range stores {
		for n := range perStore {
			for _, s := range stores {
				if r, ok := s.Lookup(fmt.Sprintf("reg.example/app:%d-%d", i, n)); !ok || r.Digest != "sha256:aa" {
					t.Fatalf("observation %d-%d lost: %+v %v", i, n, r, ok)
				}
			}
		}
	}
	if f, err := stores[0].Observe("reg.example/app:common", "sha256:dd"); err != nil || f == nil || f.Extra["old_digest"] != "sha256:cc" {
		t.Fatalf("move seen by store 0: %+v %v", f, err)
	}
	if f, err := stores[1].Observe("reg.example/app:common", "sha256:cc"); err != nil || f == nil || f.Extra["old_digest"] != "sha256:dd" {
		t.Fatalf("store 1 does not see store 0's observation: %+v %v", f, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %04o, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(p)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %04o, want 0700", di.Mode().Perm())
	}
}

func TestDriftStoreImportsTheJSONStore(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	old := fmt.Sprintf(`{"reg.example/app:1":{"digest":"sha256:11","first_seen":%q,"last_seen":%q}}`, t0.Format(time.RFC3339), t0.Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(dir, "tags.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDriftStore(filepath.Join(dir, "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, ok := s.Lookup("reg.example/app:1"); !ok || r.Digest != "sha256:11" || !r.FirstSeen.Equal(t0) {
		t.Errorf("imported record %+v %v", r, ok)
	}
	if _, err := os.Stat(filepath.Join(dir, "tags.json.imported")); err != nil {
		t.Errorf("tags.json not renamed: %v", err)
	}
	if f, _ := s.Observe("reg.example/app:1", "sha256:22"); f == nil {
		t.Error("drift from an imported record not reported")
	}
	// A database named tags.json (a caller not yet moved to registry.db)
	// does not try to import itself.
	other := t.TempDir()
	s2, err := OpenDriftStore(filepath.Join(other, "tags.json"))
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if s2, err = OpenDriftStore(filepath.Join(other, "tags.json")); err != nil {
		t.Fatalf("reopening a database named tags.json: %v", err)
	}
	s2.Close()
	// The JSON store itself is not a database.
	if _, err := OpenDriftStore(filepath.Join(dir, "tags.json.imported")); err == nil || !strings.Contains(err.Error(), "JSON file") {
		t.Errorf("opening the JSON file as the database: %v", err)
	}
}

// Scan state saved by one run is found by the next, and two runs sharing
// the directory write it at once without losing a result.
func TestScanStateResume(t *testing.T) {
	dir := t.TempDir()
	a, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, s := range []*stateStore{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				r := ImageResult{Digest: fmt.Sprintf("sha256:%d-%d", i, n), LayersWalked: 2,
					Findings: []model.Finding{{Class: model.ClassSecret, ID: "s", Severity: model.High}}}
				if err := s.save("db-1", r); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	a.Close()
	b.Close()
	c, err := openState(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2 {
		for n := range 50 {
			d := fmt.Sprintf("sha256:%d-%d", i, n)
			r, ok := c.load("db-1", d)
			if !ok || r.Digest != d || len(r.Findings) != 1 || r.LayersWalked != 2 {
				t.Fatalf("result %s: %+v %v", d, r, ok)
			}
			if _, ok := c.load("db-2", d); ok {
				t.Fatalf("result %s found under another database version", d)
			}
		}
	}
	// A failed scan is not kept.
	if err := c.save("db-1", ImageResult{Digest: "sha256:bad", Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.load("db-1", "sha256:bad"); ok {
		t.Error("a failed scan is resumed")
	}
}
