package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// setFeed makes dir hold exactly the record files of from.
func setFeed(t *testing.T, dir, from string) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob(filepath.Join(from, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no records in %s: %v", from, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeRecord writes r as the only record file of dir.
func writeRecord(t *testing.T, dir string, r *Record) {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		os.Remove(f)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.ID+".json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func generation(t *testing.T, dir string) int64 {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g, err := db.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Generation != g {
		t.Fatalf("status generation %d, Generation %d", st.Generation, g)
	}
	return g
}

func changedSince(t *testing.T, dir string, gen int64) (Changes, bool) {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ch, ok, err := db.ChangedSince(context.Background(), gen)
	if err != nil {
		t.Fatal(err)
	}
	return ch, ok
}

func mustImport(t *testing.T, dir string, paths ...string) {
	t.Helper()
	if _, err := Import(context.Background(), dir, paths); err != nil {
		t.Fatal(err)
	}
}

// TestChangeLog imports real records (the bundled sample and
// testdata/changes/before), then the changed set of testdata/changes/after:
// DEBIAN-CVE-2022-37434's Debian 12 fix moved up, GHSA-29mw-wpgm-hmr9
// withdrawn, GHSA-v845-jxx5-vc9f gone, GHSA-xvch-5gv4-984h new.
func TestChangeLog(t *testing.T) {
	dir, feed := t.TempDir(), t.TempDir()
	setFeed(t, feed, "testdata/changes/before")
	mustImport(t, dir, "testdata/osv", feed)
	g1 := generation(t, dir)
	if g1 <= 0 {
		t.Fatalf("first generation %d", g1)
	}
	if ch, ok := changedSince(t, dir, g1); !ok || len(ch.IDs) != 0 || len(ch.Keys) != 0 || ch.Generation != g1 {
		t.Fatalf("changes since the current generation: %+v %v", ch, ok)
	}
	// A new database logs nothing: no earlier generation can be served.
	if _, ok := changedSince(t, dir, g1-1); ok {
		t.Fatal("changes before the first generation")
	}
	if _, ok := changedSince(t, dir, g1+1); ok {
		t.Fatal("changes since a future generation")
	}

	// The same records again: no new generation, nothing logged.
	mustImport(t, dir, feed, "testdata/osv")
	if g := generation(t, dir); g != g1 {
		t.Fatalf("an import that changed nothing moved the generation %d -> %d", g1, g)
	}

	setFeed(t, feed, "testdata/changes/after")
	mustImport(t, dir, feed)
	g2 := generation(t, dir)
	if g2 != g1+1 {
		t.Fatalf("generation %d after %d", g2, g1)
	}
	ch, ok := changedSince(t, dir, g1)
	if !ok {
		t.Fatal("log does not reach the previous generation")
	}
	want := Changes{Generation: g2,
		IDs: []string{"DEBIAN-CVE-2022-37434", "GHSA-29mw-wpgm-hmr9", "GHSA-v845-jxx5-vc9f", "GHSA-xvch-5gv4-984h"},
		Keys: []PackageKey{{"Debian", "libz-mingw-w64"}, {"Debian", "zlib"}, {"PyPI", "urllib3"},
			{"npm", "lodash"}, {"npm", "minimist"}}}
	if !reflect.DeepEqual(ch, want) {
		t.Fatalf("changes\n got %+v\nwant %+v", ch, want)
	}
	// A failed import changes nothing.
	if _, err := Import(context.Background(), dir, []string{feed, filepath.Join(feed, "missing")}); err == nil {
		t.Fatal("import of a missing path succeeded")
	}
	if g := generation(t, dir); g != g2 {
		t.Fatalf("failed import moved the generation to %d", g)
	}
}

// TestChangeLogKeys: a record whose package changed is logged under both
// packages, by their normalized names.
func TestChangeLogKeys(t *testing.T) {
	dir, feed := t.TempDir(), t.TempDir()
	r := &Record{ID: "PYSEC-2023-74", Modified: "2023-06-01T00:00:00Z", Aliases: []string{"CVE-2023-32681"},
		Affected: []Affected{{Package: Package{Ecosystem: "PyPI", Name: "Requests"},
			Ranges: []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "2.3.0"}, {Fixed: "2.31.0"}}}}}}}
	writeRecord(t, feed, r)
	mustImport(t, dir, feed)
	g1 := generation(t, dir)
	r.Affected[0].Package.Name = "Flask_Requests"
	writeRecord(t, feed, r)
	mustImport(t, dir, feed)
	ch, ok := changedSince(t, dir, g1)
	want := []PackageKey{{"PyPI", "flask-requests"}, {"PyPI", "requests"}}
	if !ok || ch.Generation != g1+1 || !reflect.DeepEqual(ch.IDs, []string{"PYSEC-2023-74"}) || !reflect.DeepEqual(ch.Keys, want) {
		t.Fatalf("changes %+v %v, want keys %v", ch, ok, want)
	}
}

// TestChangeLogBound: the log keeps LogGenerations generations.
func TestChangeLogBound(t *testing.T) {
	if testing.Short() {
		t.Skip("many imports")
	}
	dir, feed := t.TempDir(), t.TempDir()
	r := &Record{ID: "GHSA-jf85-cpcp-j695", Affected: []Affected{{Package: Package{Ecosystem: "npm", Name: "lodash"},
		Ranges: []Range{{Type: "SEMVER", Events: []Event{{Introduced: "0"}, {Fixed: "4.17.12"}}}}}}}
	var gens []int64
	for i := range LogGenerations + 2 {
		r.Modified = "2023-09-05T22:24:" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "Z"
		writeRecord(t, feed, r)
		mustImport(t, dir, feed)
		gens = append(gens, generation(t, dir))
	}
	last := gens[len(gens)-1]
	if last != gens[0]+LogGenerations+1 {
		t.Fatalf("generations %v", gens)
	}
	if ch, ok := changedSince(t, dir, last-LogGenerations); !ok || len(ch.IDs) != 1 {
		t.Fatalf("changes since %d generations ago: %+v %v", LogGenerations, ch, ok)
	}
	if _, ok := changedSince(t, dir, last-LogGenerations-1); ok {
		t.Fatalf("the log reaches back %d generations", LogGenerations+1)
	}
	db, _ := Open(dir)
	defer db.Close()
	var n int
	if err := db.db.QueryRow(`SELECT COUNT(DISTINCT generation) FROM changed_ids`).Scan(&n); err != nil || n != LogGenerations {
		t.Fatalf("%d generations logged (%v)", n, err)
	}
}

// TestUpdateUnchanged: an update that fetches the same export keeps the
// generation.
func TestUpdateUnchanged(t *testing.T) {
	zip := sampleZip(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(zip) }))
	defer srv.Close()
	dir := t.TempDir()
	opt := UpdateOptions{Source: srv.URL, Ecosystems: []string{"npm"}}
	for range 2 {
		if _, err := Update(context.Background(), dir, opt); err != nil {
			t.Fatal(err)
		}
	}
	g := generation(t, dir)
	if ch, ok := changedSince(t, dir, g); !ok || len(ch.IDs) != 0 {
		t.Fatalf("changes %+v %v", ch, ok)
	}
	var n int
	db, _ := Open(dir)
	defer db.Close()
	if err := db.db.QueryRow(`SELECT COUNT(*) FROM changed_ids`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d changes logged (%v)", n, err)
	}
}

// TestOlderSchema: a database of schema 3 (before the change log) is
// refused by Open with the way out, and rebuilt by the next import.
func TestOlderSchema(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES('schema', '3')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "database schema 3, this customs reads 4: run `customs db update` again") {
		t.Fatalf("open: %v", err)
	}
	mustImport(t, dir, "testdata/osv")
	if g := generation(t, dir); g <= 0 {
		t.Fatalf("generation %d", g)
	}
}
