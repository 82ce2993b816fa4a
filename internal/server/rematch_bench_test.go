//go:build unix

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// The re-match benchmark's dataset: rmRecords records over rmPool Debian
// 12 source packages and rmPool npm packages, of which rmChanged change
// (40 fixed later, 30 withdrawn, 30 new); rmImages stored images of 200
// Debian and 100 npm packages drawn from the same pools.
const (
	rmRecords = 4000
	rmPool    = 1000
	rmChanged = 100
	rmImages  = 1000
)

// rmRecord is record i of the dataset, as an OSV document.
func rmRecord(id string, i int, fixedLater, withdrawn bool) map[string]any {
	eco, name, typ, fixed := "Debian:12", fmt.Sprintf("src%d", (i/2)%rmPool), "ECOSYSTEM", fmt.Sprintf("1.%d-1", i%7)
	if fixedLater {
		fixed = "1.8-1"
	}
	if i%2 == 1 {
		eco, name, typ, fixed = "npm", fmt.Sprintf("pkg-%d", (i/2)%rmPool), "SEMVER", fmt.Sprintf("1.%d.0", i%9)
		if fixedLater {
			fixed = "1.10.0"
		}
	}
	introduced := "0"
	if typ == "SEMVER" {
		introduced = "1.0.0"
	}
	r := map[string]any{"id": id, "modified": "2026-01-01T00:00:00Z", "aliases": []string{"CVE-2026-" + id[3:]},
		"summary":  "generated record",
		"severity": []map[string]string{{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": []map[string]any{{"package": map[string]string{"ecosystem": eco, "name": name},
			"ranges": []map[string]any{{"type": typ, "events": []map[string]string{{"introduced": introduced}, {"fixed": fixed}}}}}}}
	if fixedLater || withdrawn {
		r["modified"] = "2026-02-01T00:00:00Z"
	}
	if withdrawn {
		r["withdrawn"] = "2026-02-01T00:00:00Z"
	}
	return r
}

// writeRMFeed makes dir hold the records of the dataset before the
// change, or after it; few changes only two npm records (fixed later),
// whose packages about a fifth of the images hold.
func writeRMFeed(b *testing.B, dir string, after, few bool) {
	step := rmRecords / rmChanged
	write := func(r map[string]any) {
		data, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(dir, r["id"].(string)+".json"), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := range rmRecords {
		id := fmt.Sprintf("RM-%06d", i)
		n := i / step
		changed := after && (few && i < 4 && i%2 == 1 || !few && i%step == 0)
		switch {
		case changed && n < 40:
			write(rmRecord(id, i, true, false))
		case changed && n < 70:
			write(rmRecord(id, i, false, true))
		case changed:
			write(rmRecord(id, i, false, false))
			write(rmRecord(fmt.Sprintf("RM-%06d", rmRecords+i), i, true, false))
		default:
			write(rmRecord(id, i, false, false))
		}
	}
}

// rmReport is stored image i: its inventory, and no finding yet.
func rmReport(i int) *report.Report {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	pkgs := make([]model.Package, 0, 300)
	for j := range 200 {
		src, v := rng.IntN(rmPool), fmt.Sprintf("1.%d-1", rng.IntN(9))
		name := fmt.Sprintf("bin%d-%d", src, j)
		pkgs = append(pkgs, model.Package{Name: name, Version: v, Type: model.TypeDeb, SourceName: fmt.Sprintf("src%d", src),
			PURL: fmt.Sprintf("pkg:deb/debian/%s@%s?distro=debian-12", name, v)})
	}
	for j := range 100 {
		name, v := fmt.Sprintf("pkg-%d", rng.IntN(rmPool)), fmt.Sprintf("1.%d.0", rng.IntN(11))
		pkgs = append(pkgs, model.Package{Name: name, Version: v, Type: model.TypeNPM, Path: fmt.Sprintf("app/%d/package.json", j),
			PURL: fmt.Sprintf("pkg:npm/%s@%s", name, v)})
	}
	digest := fmt.Sprintf("sha256:%064x", i+1)
	return &report.Report{SchemaVersion: report.SchemaVersion, Artifact: report.Artifact{Input: "bench/img:" + fmt.Sprint(i), Source: "registry",
		Name: "bench/img:" + fmt.Sprint(i), Digest: digest, OS: &model.OS{Family: "debian", Version: "12"}},
		Packages: pkgs, Coverage: &report.Coverage{Vulnerabilities: report.CoverageMatched}}
}

// BenchmarkRematch re-matches rmImages stored images after a change of
// rmChanged records, end to end through the store as the re-match job
// does: the stale images are listed, the reports of those holding a
// changed package read, re-matched against the changed records only, and
// stored with their events, the others marked current. One op is the
// whole re-match. With rmChanged records nearly every image holds a
// changed package; the -few runs change two records.
func BenchmarkRematch(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchRematch(b, "", false) })
	b.Run("postgres", func(b *testing.B) { benchRematch(b, testenv.Postgres(b), false) })
	b.Run("sqlite-few", func(b *testing.B) { benchRematch(b, "", true) })
	b.Run("postgres-few", func(b *testing.B) { benchRematch(b, testenv.Postgres(b), true) })
}

func benchRematch(b *testing.B, dsn string, few bool) {
	ctx := context.Background()
	s := rematchServer(b, dsn)
	feedDir, work := b.TempDir(), b.TempDir()
	publish := func(after bool) int64 {
		writeRMFeed(b, feedDir, after, few)
		gen, err := s.store.BuildVulnDB(ctx, work, func() error {
			_, err := vulndb.Import(ctx, work, []string{feedDir})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.reloadVulnDB(ctx); err != nil {
			b.Fatal(err)
		}
		return gen
	}
	gen1 := publish(false)
	// The images as scans at the first generation store them.
	rm, err := s.pipe.Rematcher()
	if err != nil {
		b.Fatal(err)
	}
	for i := range rmImages {
		rep := rmReport(i)
		if out, _, _, err := rm.Rematch(ctx, rep, 0); err != nil {
			b.Fatal(err)
		} else if out != nil {
			rep = out
		}
		ref := &store.Ref{Source: store.SourceRegistry, Repository: "bench/img", Tag: fmt.Sprint(i)}
		if _, err := s.store.SaveScan(ctx, store.ScanRecord{Input: rep.Artifact.Input, Ref: ref, Started: time.Now(), Finished: time.Now(),
			Report: rep, MatchedGeneration: gen1}); err != nil {
			b.Fatal(err)
		}
	}
	rm.Close()
	publish(true)
	var st rematchStats
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 {
			b.StopTimer()
			resetRematch(b, s.store, gen1)
			b.StartTimer()
		}
		rm, err := s.pipe.Rematcher()
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime()
		st, err = s.rematchAll(ctx, rm, fmt.Sprintf("rematch:bench-%d", i))
		cpu += cpuTime() - cpu0
		rm.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	if st.images != rmImages {
		b.Fatalf("re-matched %d images of %d", st.images, rmImages)
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(st.read), "reports-read")
	b.ReportMetric(float64(st.changed), "images-changed")
	b.ReportMetric(float64(st.events), "events")
}

// resetRematch undoes a re-match: the images' latest scans are again
// those at generation gen.
func resetRematch(b *testing.B, st *store.Store, gen int64) {
	ctx := context.Background()
	for _, q := range []string{
		`UPDATE image SET last_scan = (SELECT MIN(s.id) FROM scan s WHERE s.digest = image.digest)`,
		`DELETE FROM scan WHERE rematch_of IS NOT NULL`,
		`DELETE FROM event`,
	} {
		if _, err := st.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := st.Exec(ctx, `UPDATE scan SET matched_generation = ?`, gen); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the user and system CPU time the process has used: on a
// shared machine it varies with the load much less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
