package server

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/vulndb"
)

// TestDBUpdateEvery: with --db-update-every the server downloads the OSV
// export of a mirror (here a local one), publishes it into its store and
// matches against it, once at start and then on schedule.
func TestDBUpdateEvery(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "vulndb", "testdata", "osv", "DSA-5514-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range map[string][]byte{"DSA-5514-1.json": base, "DSA-9999-1.json": newRecord(false)} {
		w, _ := zw.Create(name)
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var fetched atomic.Int64
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Debian/all.zip" {
			http.NotFound(w, r)
			return
		}
		fetched.Add(1)
		w.Write(buf.Bytes())
	}))
	t.Cleanup(mirror.Close)
	eachStore(t, func(t *testing.T, dsn string) {
		fetched.Store(0)
		cfg := newConfig(t.TempDir(), dsn)
		cfg.Pipeline.Vuln.DBDir = ""
		cfg.VulnPoll = 100 * time.Millisecond
		cfg.DBUpdateEvery = time.Hour
		cfg.DBUpdate = vulndb.UpdateOptions{Source: mirror.URL, Ecosystems: []string{"Debian"}}
		ts := startWith(t, cfg)
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if g := ts.pipe.VulnGeneration(); g != 0 {
				if db := ts.pipe.Database(); db == nil || db.Records != 2 {
					t.Fatalf("the updated database: %+v", db)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no database was published")
			}
		}
		if n := fetched.Load(); n != 1 {
			t.Errorf("the mirror was asked %d times", n)
		}
		if _, err := New(t.Context(), func() Config { c := cfg; c.DBUpdateEvery = time.Second; return c }()); err == nil {
			t.Error("an update every second was accepted")
		}
	})
}
