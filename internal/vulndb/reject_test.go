package vulndb

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTar writes a real tar archive holding one OSV record: not a format
// Import reads.
func writeTar(t *testing.T, p string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data, err := os.ReadFile("testdata/osv/DSA-5218-1.json")
	if err != nil {
		t.Fatal(err)
	}
	tw.WriteHeader(&tar.Header{Name: "DSA-5218-1.json", Mode: 0o644, Size: int64(len(data))})
	tw.Write(data)
	tw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Inputs that yield no valid record fail, name what was skipped, and leave
// the database as it was.
func TestImportRejectsNoRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Import(ctx, dir, []string{"testdata/osv"}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	garbage := filepath.Join(in, "garbage.tar")
	writeTar(t, garbage)
	notOSV := filepath.Join(in, "npm")
	os.Mkdir(notOSV, 0o755)
	os.WriteFile(filepath.Join(notOSV, "package.json"), []byte(`{"name": "lodash", "version": "4.17.11"}`), 0o644)
	os.WriteFile(filepath.Join(notOSV, "README.md"), []byte("# not a record\n"), 0o644)
	empty := filepath.Join(in, "empty")
	os.Mkdir(empty, 0o755)
	emptyZip := filepath.Join(in, "all.zip")
	zf, _ := os.Create(emptyZip)
	zip.NewWriter(zf).Close()
	zf.Close()
	for _, c := range []struct {
		paths []string
		says  []string
	}{
		{[]string{garbage}, []string{"garbage.tar: no valid OSV record", "skipped 1 file: garbage.tar: not JSON"}},
		{[]string{notOSV}, []string{"skipped 1 file: package.json: not an OSV record (no id)", "1 files without a .json, .yaml, .yml or .zip extension ignored"}},
		{[]string{empty}, []string{"no .json, .yaml, .yml or .zip file found"}},
		{[]string{emptyZip}, []string{"all.zip: no valid OSV record"}},
		// one good path does not carry a bad one
		{[]string{"testdata/synthetic", garbage}, []string{"garbage.tar: no valid OSV record"}},
	} {
		_, err := Import(ctx, dir, c.paths)
		if !errors.Is(err, ErrNoRecord) {
			t.Errorf("%v: %v", c.paths, err)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%v: %q does not say %q", c.paths, err, s)
			}
		}
		after, _ := os.ReadFile(filepath.Join(dir, FileName))
		if !bytes.Equal(before, after) {
			t.Fatalf("%v: the database changed", c.paths)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
			t.Fatalf("%v: temporary files left: %v", c.paths, left)
		}
	}
}

// Files that are not records are skipped and named, a bounded list with
// the count, while the valid records of the directory are imported.
func TestImportNamesSkippedFiles(t *testing.T) {
	in := t.TempDir()
	data, _ := os.ReadFile("testdata/osv/GHSA-jf85-cpcp-j695.json")
	os.WriteFile(filepath.Join(in, "GHSA-jf85-cpcp-j695.json"), data, 0o644)
	for i := range MaxSkipReasons + 2 {
		os.WriteFile(filepath.Join(in, fmt.Sprintf("bad%02d.json", i)), []byte(`{"summary": "no id"}`), 0o644)
	}
	os.WriteFile(filepath.Join(in, "a-broken.yaml"), []byte("id: [unclosed"), 0o644)
	b, err := Import(context.Background(), t.TempDir(), []string{in})
	if err != nil {
		t.Fatal(err)
	}
	if b.Skipped != MaxSkipReasons+3 || len(b.SkippedFiles) != MaxSkipReasons {
		t.Fatalf("skipped %d, named %+v", b.Skipped, b.SkippedFiles)
	}
	sum := b.SkipSummary()
	if !strings.HasPrefix(sum, fmt.Sprintf("skipped %d files: ", MaxSkipReasons+3)) || !strings.Contains(sum, "bad00.json: not an OSV record (no id)") ||
		!strings.HasSuffix(sum, "; and 3 more") || !strings.Contains(sum, "a-broken.yaml: not an OSV record (YAML") {
		t.Errorf("summary %q", sum)
	}
	if b.Records("local:"+in) != 1 {
		t.Errorf("records %d", b.Records("local:"+in))
	}
}

// A mirror whose export holds no valid record fails the update: the
// previous database stays.
func TestUpdateRejectsEmptyExport(t *testing.T) {
	var junk bytes.Buffer
	zw := zip.NewWriter(&junk)
	w, _ := zw.Create("package.json")
	w.Write([]byte(`{"name": "x"}`))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(junk.Bytes()) }))
	defer srv.Close()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Import(ctx, dir, []string{"testdata/osv"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, FileName))
	_, err := Update(ctx, dir, UpdateOptions{Source: srv.URL, Ecosystems: []string{"npm"}})
	if !errors.Is(err, ErrNoRecord) || !strings.Contains(err.Error(), "npm/package.json: not an OSV record (no id)") || !strings.Contains(err.Error(), "previous database is unchanged") {
		t.Fatalf("update: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, FileName)); !bytes.Equal(before, after) {
		t.Fatal("the database changed")
	}
}

// Records that name no package (osv.dev's CVE records) are kept and found
// by id; the ecosystem summary counts records per exact ecosystem.
func TestByIDAndEcosystems(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Import(ctx, dir, []string{"testdata/osv", "testdata/synthetic"}); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.ByID(ctx, []string{"CVE-2023-4911", "DSA-5514-1", "CVE-2023-39325", "CVE-0000-0000"})
	if err != nil {
		t.Fatal(err)
	}
	idsOf := func(k string) string {
		var s []string
		for _, r := range recs[k] {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	// CVE-2023-4911: its own record (no package, CVSS) and DSA-5514-1, whose
	// upstream names it; CVE-2023-39325: the records that list it as an alias.
	if len(recs) != 3 || idsOf("CVE-2023-4911") != "CVE-2023-4911,DSA-5514-1" || idsOf("DSA-5514-1") != "DSA-5514-1" ||
		idsOf("CVE-2023-39325") != "GHSA-4374-p667-p6c8,GO-2023-2102" {
		t.Fatalf("%v", recs)
	}
	if sev := recs["CVE-2023-4911"][0].Severity; len(sev) != 1 || sev[0].Type != "CVSS_V3" {
		t.Fatalf("CVE record severity %+v", sev)
	}
	ecos, err := db.Ecosystems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]EcosystemInfo{}
	for _, e := range ecos {
		got[e.Ecosystem] = e
	}
	// npm: GHSA-jf85-cpcp-j695 and MAL-2022-9; TEST-WITHDRAWN-1 is withdrawn.
	if e := got["npm"]; e.Records != 2 || e.FetchedAt.IsZero() || e.Modified == "" {
		t.Errorf("npm %+v", e)
	}
	if e := got["Debian:12"]; e.Records != 2 || e.Modified != "2023-10-24T00:00:00Z" {
		t.Errorf("Debian:12 %+v", e)
	}
	if e := got["Debian:11"]; e.Records != 2 {
		t.Errorf("Debian:11 %+v", e)
	}
	for _, e := range ecos {
		if e.Ecosystem == "" || e.Records == 0 {
			t.Errorf("summary row %+v", e)
		}
	}
	// The in-memory sample has the same summary.
	s, err := OpenSample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	se, err := s.Ecosystems(ctx)
	if err != nil || len(se) == 0 {
		t.Fatalf("sample ecosystems %v %v", se, err)
	}
	if r, err := s.ByID(ctx, []string{"CVE-2023-4911"}); err != nil || len(r["CVE-2023-4911"]) != 2 {
		t.Fatalf("sample CVE record %v %v", r, err)
	}
}
