package rematch

import (
	"archive/zip"
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
	"github.com/customs-scanner/customs/internal/vulndb"
)

// The benchmark's dataset: benchRecords generated records over benchPool
// Debian source packages and benchPool npm packages, of which
// benchChanged change (40 fixed later, 30 withdrawn, 30 new); and
// benchImages inventories of 200 Debian and 100 npm packages drawn from
// the same pools.
const (
	benchRecords = 20_000
	benchPool    = 5_000
	benchChanged = 100
	benchImages  = 1_000
)

// benchRecord is record i in the shape of the generated records of the
// match benchmark: a Debian 12 source package or an npm package, a CVE
// alias and a CVSS vector.
func benchRecord(i int, fixedLater bool) *vulndb.Record {
	var aff vulndb.Affected
	if i%2 == 0 {
		fixed := fmt.Sprintf("1.%d-1", i%7)
		if fixedLater {
			fixed = "1.8-1"
		}
		aff = vulndb.Affected{Package: vulndb.Package{Ecosystem: "Debian:12", Name: fmt.Sprintf("src%d", (i/2)%benchPool)},
			Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: fixed}}}}}
	} else {
		fixed := fmt.Sprintf("1.%d.0", i%9)
		if fixedLater {
			fixed = "1.10.0"
		}
		aff = vulndb.Affected{Package: vulndb.Package{Ecosystem: "npm", Name: fmt.Sprintf("pkg-%d", (i/2)%benchPool)},
			Ranges: []vulndb.Range{{Type: "SEMVER", Events: []vulndb.Event{{Introduced: "1.0.0"}, {Fixed: fixed}}}}}
	}
	return &vulndb.Record{ID: fmt.Sprintf("BENCH-%06d", i), Modified: "2024-01-01T00:00:00Z", Aliases: []string{fmt.Sprintf("CVE-2024-%d", 100000+i)},
		Summary: "generated record", Details: "A generated record for the re-match benchmark, about as long as a short advisory text.",
		Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		Affected: []vulndb.Affected{aff}}
}

// writeBenchZip writes the records of one state of the dataset into
// dir/all.zip: before the change, or after it.
func writeBenchZip(b *testing.B, dir string, after bool) {
	f, err := os.Create(filepath.Join(dir, "all.zip"))
	if err != nil {
		b.Fatal(err)
	}
	zw := zip.NewWriter(f)
	add := func(r *vulndb.Record) {
		w, _ := zw.Create(r.ID + ".json")
		json.NewEncoder(w).Encode(r)
	}
	// Records spread over the dataset change: every 200th.
	step := benchRecords / benchChanged
	for i := range benchRecords {
		r := benchRecord(i, false)
		if after && i%step == 0 {
			switch n := i / step; {
			case n < 40:
				r = benchRecord(i, true)
				r.Modified = "2024-02-01T00:00:00Z"
			case n < 70:
				r.Modified, r.Withdrawn = "2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z"
			default:
				// a new record of the same package, fixed later
				n := benchRecord(i, true)
				n.ID, n.Aliases = fmt.Sprintf("BENCH-NEW-%06d", i), []string{fmt.Sprintf("CVE-2024-%d", 300000+i)}
				add(n)
			}
		}
		add(r)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

func benchInventories() []inventory {
	rng := rand.New(rand.NewPCG(1, 2))
	invs := make([]inventory, benchImages)
	for i := range invs {
		pkgs := make([]model.Package, 0, 300)
		for j := range 200 {
			src, v := rng.IntN(benchPool), fmt.Sprintf("1.%d-1", rng.IntN(9))
			pkgs = append(pkgs, deb(fmt.Sprintf("bin%d-%d", src, j), fmt.Sprintf("src%d", src), v, "debian-12"))
		}
		for j := range 100 {
			pkgs = append(pkgs, npm(fmt.Sprintf("pkg-%d", rng.IntN(benchPool)), fmt.Sprintf("1.%d.0", rng.IntN(11)), fmt.Sprintf("app/%d/package.json", j)))
		}
		invs[i] = inventory{name: fmt.Sprint(i), os: debian12, pkgs: pkgs}
	}
	return invs
}

// BenchmarkDiff re-matches benchImages stored inventories of 300 packages
// after a change of benchChanged records in a database of benchRecords,
// as the server does after an update: Affected picks the inventories, Diff
// re-matches them. One op is the whole re-match.
func BenchmarkDiff(b *testing.B) {
	ctx := context.Background()
	before, after := b.TempDir(), b.TempDir()
	writeBenchZip(b, before, false)
	writeBenchZip(b, after, true)
	old, cur, ch := databases(b, before, after)
	if len(ch.IDs) != benchChanged {
		b.Fatalf("%d records changed", len(ch.IDs))
	}
	invs := benchInventories()
	prev := make([][]model.Finding, len(invs))
	for i, inv := range invs {
		prev[i] = scan(b, old, inv, Options{})
	}
	var touched, added, resolved int
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		touched, added, resolved = 0, 0, 0
		c := NewChange(ch)
		for i, inv := range invs {
			if !c.Affected(inv.os, inv.pkgs, Options{}) {
				continue
			}
			touched++
			a, r, err := c.Diff(ctx, cur, inv.os, inv.pkgs, prev[i], Options{})
			if err != nil {
				b.Fatal(err)
			}
			added += len(a)
			resolved += len(r)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(touched), "inventories-rematched")
	b.ReportMetric(float64(added), "added")
	b.ReportMetric(float64(resolved), "resolved")
}

// cpuTime is the user and system CPU time the process has used: on a
// shared machine it varies with the load much less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
