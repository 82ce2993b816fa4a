package yara

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadScan(t *testing.T) {
	dir := t.TempDir()
	rule := "rule Marker { meta: severity = \"high\" description = \"marker\" strings: $a = \"customs-marker\" condition: $a }\n"
	if err := os.WriteFile(filepath.Join(dir, "m.yar"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if !Available {
		// Without cgo the user who asked for rules gets an error that
		// says why, whatever the path.
		if !errors.Is(err, ErrUnavailable) || err.Error() != "this customs was built without cgo: YARA rules are not available" {
			t.Fatalf("without cgo: %v", err)
		}
		if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("without cgo, missing path: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.Scan([]byte("xx customs-marker yy"))
	if err != nil || len(ms) != 1 || ms[0].Rule != "Marker" || ms[0].Severity != "high" || ms[0].Description != "marker" {
		t.Fatalf("matches %+v, %v", ms, err)
	}
	if ms, err := r.Scan([]byte("clean")); err != nil || len(ms) != 0 {
		t.Fatalf("clean: %+v, %v", ms, err)
	}
	if r.Identity() == "" || len(r.Files) != 1 {
		t.Errorf("identity %q, files %v", r.Identity(), r.Files)
	}
}
