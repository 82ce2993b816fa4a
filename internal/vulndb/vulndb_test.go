package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func sampleZip(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files, _ := filepath.Glob("testdata/osv/*.json")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(filepath.Base(f))
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

func lookupIDs(t *testing.T, dir, base, name string) []string {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Lookup(context.Background(), base, name)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestUpdateFromMirror(t *testing.T) {
	good := sampleZip(t)
	mode := "good"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "good":
			w.Write(good)
		case "corrupt":
			w.Write(good[:len(good)/2]) // complete response, damaged zip
		case "drop":
			w.Header().Set("Content-Length", strconv.Itoa(len(good)))
			w.Write(good[:len(good)/3])
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		case "missing":
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	opt := UpdateOptions{Source: srv.URL, Ecosystems: []string{"npm", "Debian"}, Now: func() time.Time { return at }}
	if _, err := Update(ctx, dir, opt); err != nil {
		t.Fatal(err)
	}
	if ids := lookupIDs(t, dir, "Debian", "glibc"); len(ids) != 1 || ids[0] != "DSA-5514-1" {
		t.Fatalf("glibc records %v", ids)
	}
	before, _ := os.ReadFile(filepath.Join(dir, FileName))
	for _, m := range []string{"corrupt", "drop", "missing"} {
		mode = m
		if _, err := Update(ctx, dir, opt); err == nil {
			t.Fatalf("%s: update succeeded", m)
		} else {
			t.Logf("%s: %v", m, err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, FileName))
		if !bytes.Equal(before, after) {
			t.Fatalf("%s: the previous database changed", m)
		}
		if ids := lookupIDs(t, dir, "npm", "lodash"); len(ids) != 1 || ids[0] != "GHSA-jf85-cpcp-j695" {
			t.Fatalf("%s: lodash records %v after failed update", m, ids)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(left) != 1 {
			t.Fatalf("%s: temporary files left: %v", m, left)
		}
	}
	db, _ := Open(dir)
	st, err := db.Status(ctx)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/osv/*.json")
	if len(st.Sources) != 2 || st.Sources[0].Name != "Debian" || st.Sources[0].Records != len(files) || !st.Sources[0].FetchedAt.Equal(at) ||
		st.Sources[0].Origin != srv.URL+"/Debian/all.zip" || st.Records != len(files) {
		t.Fatalf("status %+v", st)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	if _, err := Import(ctx, a, []string{"testdata/osv", "testdata/synthetic"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "db.zip")
	st, err := Export(ctx, a, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, b, []string{out}); err != nil {
		t.Fatal(err)
	}
	db, _ := Open(b)
	st2, err := db.Status(ctx)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != st2.Records || len(st2.Sources) != 2 || st2.Sources[0] != st.Sources[0] {
		t.Fatalf("export %+v, import %+v", st, st2)
	}
	if ids := lookupIDs(t, b, "Go", "stdlib"); len(ids) != 1 || ids[0] != "GO-2023-2102" {
		t.Fatalf("stdlib %v", ids)
	}
	// Re-importing the same directory replaces its source instead of adding.
	if _, err := Import(ctx, a, []string{"testdata/osv"}); err != nil {
		t.Fatal(err)
	}
	db, _ = Open(a)
	st3, _ := db.Status(ctx)
	db.Close()
	if st3.Records != st.Records {
		t.Fatalf("re-import changed the count: %d then %d", st.Records, st3.Records)
	}
}

func TestSample(t *testing.T) {
	db, err := OpenSample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Lookup(context.Background(), "PyPI", "REQUESTS")
	if err != nil || len(recs) != 1 || recs[0].ID != "GHSA-j8r2-6x86-q33q" {
		t.Fatalf("%v %v", err, recs)
	}
}

func TestParseRejects(t *testing.T) {
	for name, data := range map[string]string{
		"a.json":   `{"summary": "no id"}`,
		"b.json":   `[{"id": "X"}, null]`,
		"c.yaml":   "id: &a X\nsummary: *a\n",
		"d.json":   `{"id": 5}`,
		"e.yml":    "- not a mapping",
		"f.json":   ``,
		"big.json": `{"id":"X","details":"` + string(bytes.Repeat([]byte("a"), MaxRecordBytes)) + `"}`,
	} {
		if _, err := Parse(name, []byte(data)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	recs, err := Parse("r.yaml", []byte("id: PYSEC-2023-74\naliases: [CVE-2023-32681]\naffected:\n- package: {ecosystem: PyPI, name: requests}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: 2.3.0}, {fixed: 2.31.0}]\n"))
	if err != nil || len(recs) != 1 || recs[0].Affected[0].Ranges[0].Events[1].Fixed != "2.31.0" {
		t.Fatalf("yaml: %v %+v", err, recs)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/osv/*.json")
	for _, p := range files {
		data, _ := os.ReadFile(p)
		f.Add("x.json", data)
	}
	f.Add("x.yaml", []byte("id: X\naffected:\n- package: {ecosystem: npm, name: a}\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		recs, err := Parse(name, data)
		if err != nil {
			// every rejection says why, for the skipped-files report
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Reason == "" || pe.Name != name {
				t.Fatalf("error %v is not a ParseError naming the file", err)
			}
			return
		}
		for _, r := range recs {
			if r == nil || r.ID == "" {
				t.Fatal("record without id accepted")
			}
			if _, _, err := encodeRecord(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
