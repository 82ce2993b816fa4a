package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// osvDB builds a vulnerability database in a new directory from fixture
// OSV records.
func osvDB(t *testing.T, records ...string) string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, r := range records {
		paths = append(paths, filepath.Join("..", "vulndb", "testdata", "osv", r))
	}
	if _, err := vulndb.Import(context.Background(), dir, paths); err != nil {
		t.Fatal(err)
	}
	return dir
}

func generation(t *testing.T, dir string) int64 {
	t.Helper()
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, err := db.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// hasFinding reports whether rep holds a finding known by id or aliased
// to it.
func hasFinding(rep *report.Report, id string) bool {
	for _, f := range rep.Findings {
		if f.ID == id || slices.Contains(f.Aliases, id) {
			return true
		}
	}
	return false
}

// TestReloadVuln: after ReloadVuln, scans match against the new database
// (a record only it holds is found), while a scan that started before
// keeps the old one open until it ends; scans and reloads run at once.
func TestReloadVuln(t *testing.T) {
	ctx := context.Background()
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")),
		testimage.Layer(t, testimage.File("var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\n\n")))
	input := t.TempDir()
	lp, err := layout.Write(input, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	old := osvDB(t, "DSA-5532-1.json")
	newer := osvDB(t, "DSA-5532-1.json", "DSA-5514-1.json")

	p, err := New(ctx, Config{Vuln: VulnConfig{DBDir: old}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	scan := func() *report.Report {
		t.Helper()
		rep, err := p.Scan(ctx, input)
		if err != nil {
			t.Error(err)
		}
		return rep
	}
	if rep := scan(); hasFinding(rep, "DSA-5514-1") || len(rep.Coverage.Missing) != 0 {
		t.Fatalf("the old database found DSA-5514-1 or lacked data: %+v", rep.Coverage)
	}
	if g := p.VulnGeneration(); g != generation(t, old) {
		t.Fatalf("generation %d, want %d", g, generation(t, old))
	}

	running := p.useVuln() // a scan in progress
	if err := p.ReloadVuln(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if g := p.VulnGeneration(); g != generation(t, newer) {
		t.Errorf("generation %d after reload, want %d", g, generation(t, newer))
	}
	if rep := scan(); !hasFinding(rep, "DSA-5514-1") {
		t.Errorf("a scan after the reload did not find DSA-5514-1: %+v", rep.Findings)
	}
	if _, err := running.db.Generation(ctx); err != nil {
		t.Fatalf("the database of a running scan was closed: %v", err)
	}
	p.doneVuln(running)
	if _, err := running.db.Generation(ctx); err == nil {
		t.Error("the replaced database is still open after its last scan")
	}

	// No database there: refused, the current one stays.
	if err := p.ReloadVuln(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no vulnerability database") {
		t.Errorf("reload from an empty directory: %v", err)
	}
	if g := p.VulnGeneration(); g != generation(t, newer) {
		t.Errorf("a failed reload changed the generation to %d", g)
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				scan()
			}
		}()
	}
	for i := range 6 {
		dir := old
		if i%2 == 1 {
			dir = newer
		}
		if err := p.ReloadVuln(ctx, dir); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if rep := scan(); !hasFinding(rep, "DSA-5514-1") {
		t.Error("the last reload was not the one in use")
	}

	off, err := New(ctx, Config{Scanners: []string{"secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if err := off.ReloadVuln(ctx, newer); err == nil || off.VulnGeneration() != 0 {
		t.Error("a pipeline without vulnerability matching reloaded a database")
	}
}
