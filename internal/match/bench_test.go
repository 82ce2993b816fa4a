package match

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// benchRecords is the size of the generated dataset.
const benchRecords = 100_000

// writeBenchZip writes benchRecords generated OSV records spread over 20,000
// Debian source packages and 20,000 npm packages, as an OSV export zip.
func writeBenchZip(b *testing.B, p string) {
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := range benchRecords {
		var aff vulndb.Affected
		if i%2 == 0 {
			aff = vulndb.Affected{Package: vulndb.Package{Ecosystem: "Debian:12", Name: fmt.Sprintf("src%d", i%20000)},
				Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: fmt.Sprintf("1.%d-1~deb12u1", i%7)}}}}}
		} else {
			aff = vulndb.Affected{Package: vulndb.Package{Ecosystem: "npm", Name: fmt.Sprintf("pkg-%d", i%20000)},
				Ranges: []vulndb.Range{{Type: "SEMVER", Events: []vulndb.Event{{Introduced: "1.0.0"}, {Fixed: fmt.Sprintf("1.%d.0", i%9)}}}}}
		}
		r := vulndb.Record{ID: fmt.Sprintf("BENCH-%06d", i), Modified: "2024-01-01T00:00:00Z", Aliases: []string{fmt.Sprintf("CVE-2024-%d", 100000+i)},
			Summary: "generated record", Details: "A generated record for the import and matching benchmarks, about as long as a short advisory text.",
			Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			Affected: []vulndb.Affected{aff}}
		w, _ := zw.Create(r.ID + ".json")
		json.NewEncoder(w).Encode(&r)
	}
	zw.Close()
	f.Close()
}

// BenchmarkImportAndMatch imports benchRecords records, then matches 2,000
// packages (1,000 Debian, 1,000 npm) against them.
func BenchmarkImportAndMatch(b *testing.B) {
	ctx := context.Background()
	tmp := b.TempDir()
	zp := filepath.Join(tmp, "all.zip")
	writeBenchZip(b, zp)
	dir := filepath.Join(tmp, "db")
	runtime.GC()
	var peak uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak {
					peak = ms.HeapInuse
				}
			}
		}
	}()
	start := time.Now()
	if _, err := vulndb.Import(ctx, dir, []string{zp}); err != nil {
		b.Fatal(err)
	}
	importTime := time.Since(start)
	close(stop)
	fi, _ := os.Stat(filepath.Join(dir, vulndb.FileName))
	b.Logf("import of %d records: %s, peak heap %.0f MB, database %.0f MB", benchRecords, importTime.Round(time.Millisecond), float64(peak)/(1<<20), float64(fi.Size())/(1<<20))

	db, err := vulndb.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var pkgs []model.Package
	for i := range 1000 {
		pkgs = append(pkgs, model.Package{Name: fmt.Sprintf("bin%d", i), SourceName: fmt.Sprintf("src%d", i*20), Version: "1.3-1", Type: model.TypeDeb},
			model.Package{Name: fmt.Sprintf("pkg-%d", i*20+1), Version: "1.2.0", Type: model.TypeNPM})
	}
	os12 := &model.OS{Family: "debian", Version: "12"}
	b.ResetTimer()
	var n int
	cpu0 := cpuTime()
	for b.Loop() {
		fs, err := Match(ctx, db, os12, pkgs)
		if err != nil {
			b.Fatal(err)
		}
		n = len(fs)
	}
	b.ReportMetric(float64(n), "findings")
	// CPU time as well as wall time: on a shared machine the wall time
	// varies with the load, the CPU time much less.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
