package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/store"
)

// TestRematchReadsTouchedOnly: a re-match reads the reports of the images
// holding a package the change names only. An image holding none is
// marked current without its report being read (its stored report is
// made unreadable to prove it); images scanned before the package index
// existed are read, re-matched as before and indexed.
func TestRematchReadsTouchedOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := rematchServer(t, dsn)
		f := newFeed(t)
		publish := func() int64 {
			gen := f.publish(t, s.store)
			if err := s.reloadVulnDB(ctx); err != nil {
				t.Fatal(err)
			}
			return gen
		}
		gen1 := publish()
		glibc := model.Package{Name: "libc6", Version: "2.36-9+deb12u1", Type: model.TypeDeb, SourceName: "glibc"}
		zlib := model.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: model.TypeDeb, SourceName: "zlib"}
		lodash := model.Package{Name: "lodash", Version: "4.17.21", Type: model.TypeNPM, Path: "app/package.json"}
		images := []struct {
			name       string
			pkgs       []model.Package
			unindexed  bool // stored before the index existed
			unreadable bool
			changes    bool
		}{
			{"touched", []model.Package{glibc, zlib}, false, false, true},
			{"untouched", []model.Package{zlib, lodash}, false, true, false},
			{"old-touched", []model.Package{glibc}, true, false, true},
			{"old-untouched", []model.Package{zlib}, true, false, false},
		}
		rm, err := s.pipe.Rematcher()
		if err != nil {
			t.Fatal(err)
		}
		scans := map[string]int64{}
		for i, im := range images {
			digest := fmt.Sprintf("sha256:%064x", i+1)
			rep := &report.Report{SchemaVersion: report.SchemaVersion, Artifact: report.Artifact{Input: "team/" + im.name, Source: "registry",
				Name: "team/" + im.name, Digest: digest, OS: &model.OS{Family: "debian", Version: "12"}},
				Packages: im.pkgs, Coverage: &report.Coverage{Vulnerabilities: report.CoverageMatched}}
			if out, _, _, err := rm.Rematch(ctx, rep, 0); err != nil {
				t.Fatal(err)
			} else if out != nil {
				rep = out
			}
			id, err := s.store.SaveScan(ctx, store.ScanRecord{Input: rep.Artifact.Input, Ref: &store.Ref{Source: store.SourceRegistry, Repository: "team/" + im.name, Tag: "1"},
				Started: time.Now(), Finished: time.Now(), Report: rep, MatchedGeneration: gen1})
			if err != nil {
				t.Fatal(err)
			}
			scans[digest] = id
			if im.unindexed {
				for _, q := range []string{`DELETE FROM image_package WHERE digest = ?`, `UPDATE image SET packages_indexed = 0 WHERE digest = ?`} {
					if _, err := s.store.Exec(ctx, q, digest); err != nil {
						t.Fatal(err)
					}
				}
			}
			if im.unreadable {
				if _, err := s.store.Exec(ctx, `UPDATE scan SET report = ? WHERE id = ?`, []byte("not a report"), id); err != nil {
					t.Fatal(err)
				}
			}
		}
		rm.Close()

		// A new record of glibc.
		f.write(t, "DSA-9999-1.json", newRecord(false))
		gen2 := publish()
		rm, err = s.pipe.Rematcher()
		if err != nil {
			t.Fatal(err)
		}
		defer rm.Close()
		st, err := s.rematchAll(ctx, rm, "rematch:test")
		if err != nil {
			t.Fatalf("re-match (an untouched report was read?): %v", err)
		}
		if st.images != len(images) || st.read != 3 || st.changed != 2 || st.events != 2 {
			t.Errorf("re-match: %+v, want 4 images, 3 reports read, 2 changed with an event each", st)
		}
		events, _, err := s.store.ListEvents(ctx, store.EventFilter{Batch: "rematch:test"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, ev := range events {
			if ev.Kind != store.EventNew || ev.Finding.ID != "CVE-2026-0001" || ev.Generation != gen2 {
				t.Errorf("event %+v", ev)
			}
			got[ev.Digest] = true
		}
		for i, im := range images {
			digest := fmt.Sprintf("sha256:%064x", i+1)
			if got[digest] != im.changes {
				t.Errorf("%s: event %v, want %v", im.name, got[digest], im.changes)
			}
			latest, err := s.store.LatestScan(ctx, digest)
			if err != nil || latest.Generation != gen2 || !latest.Indexed || (latest.Scan != scans[digest]) != im.changes {
				t.Errorf("%s: latest scan %+v %v (first scan %d)", im.name, latest, err, scans[digest])
			}
		}
		// The images scanned before the index are indexed now.
		for i, want := range []int{2, 2, 1, 1} {
			var n int
			if err := s.store.QueryRow(ctx, `SELECT COUNT(*) FROM image_package WHERE digest = ?`, fmt.Sprintf("sha256:%064x", i+1)).Scan(&n); err != nil || n != want {
				t.Errorf("package keys of %s: %d %v, want %d", images[i].name, n, err, want)
			}
		}
	})
}

// rematchServer is a server that matches against the store's database
// and is not run: re-matches are called on it directly.
func rematchServer(tb testing.TB, dsn string) *Server {
	cfg := newConfig(tb.TempDir(), dsn)
	cfg.Pipeline.Vuln.DBDir = ""
	cfg.Pipeline.NoCache = true
	s, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
