package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// TestVulnDBFollowed: a vulnerability database published into the store
// while the server runs (what `customs db import --data-dir/--database`
// does) is used by the next scans, without a restart.
func TestVulnDBFollowed(t *testing.T) {
	reg := registry(t)
	ref := reg + "/team/later:1"
	digest := push(t, ref, vulnerableImage(t, "later"))
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		cfg := newConfig(t.TempDir(), dsn)
		cfg.Pipeline.Vuln.DBDir = "" // the store's, under the data directory
		cfg.VulnPoll = 100 * time.Millisecond
		ts := startWith(t, cfg)
		if g := ts.pipe.VulnGeneration(); g != 0 {
			t.Fatalf("generation %d before any database was published", g)
		}
		dbDir := t.TempDir()
		if _, err := vulndb.Import(ctx, dbDir, []string{filepath.Join("..", "vulndb", "testdata", "osv", "DSA-5514-1.json")}); err != nil {
			t.Fatal(err)
		}
		gen, err := ts.store.PublishVulnDB(ctx, dbDir)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ts.pipe.VulnGeneration() != gen; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the server still matches against generation %d, not %d", ts.pipe.VulnGeneration(), gen)
			}
		}
		var queued ScanStatus
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &queued); code != 202 {
			t.Fatal(code)
		}
		if st := ts.wait(t, queued.ID); st.Status != StatusSucceeded {
			t.Fatalf("scan: %+v", st)
		}
		var adv struct {
			Images []store.Image `json:"images"`
		}
		if code := ts.call(t, "GET", "/api/v1/vulnerabilities/CVE-2023-4911/images", ts.read, nil, &adv); code != 200 || len(adv.Images) != 1 || adv.Images[0].Digest != digest {
			t.Errorf("images with CVE-2023-4911 after the new database: %d %+v", code, adv)
		}
	})
}
