package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// Shape of the synthetic registry of BenchmarkThroughput.
const (
	fleetBases       = 5
	fleetBaseLayers  = 3
	fleetImages      = 200
	fleetDistinct    = fleetBases*fleetBaseLayers + fleetImages
	fleetBasePkgs    = 120
	fleetBaseFiles   = 150
	fleetNodeModules = 60
)

// fleetRegistry pushes fleetImages images built from fleetBases base
// images (a Debian-like system layer with a dpkg database, a layer of
// libraries and documentation, a layer of Node modules) plus one
// application layer each, and returns the registry's address.
func fleetRegistry(b *testing.B) string {
	b.Helper()
	reg := registry(b)
	rnd := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		const words = "the quick brown fox jumps over lazy dog config value server client token build "
		var sb strings.Builder
		for sb.Len() < n {
			i := rnd.IntN(len(words) - 8)
			sb.WriteString(words[i : i+8])
		}
		return sb.String()
	}
	for base := range fleetBases {
		var status strings.Builder
		for p := range fleetBasePkgs {
			fmt.Fprintf(&status, "Package: pkg%d-%d\nStatus: install ok installed\nVersion: 1.%d.%d-1\nArchitecture: amd64\n\n", base, p, base, p)
		}
		status.WriteString("Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\nArchitecture: amd64\n\n")
		system := testimage.Layer(b, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
			testimage.File("var/lib/dpkg/status", status.String()))
		var libs []testimage.Entry
		for f := range fleetBaseFiles {
			libs = append(libs, testimage.File(fmt.Sprintf("usr/share/doc/base%d/file%d.txt", base, f), text(8<<10)))
		}
		var mods []testimage.Entry
		for m := range fleetNodeModules {
			mods = append(mods, testimage.File(fmt.Sprintf("usr/src/app/node_modules/mod%d/package.json", m),
				fmt.Sprintf(`{"name":"mod%d","version":"%d.%d.0","main":"index.js"}`, m, base+1, m)),
				testimage.File(fmt.Sprintf("usr/src/app/node_modules/mod%d/index.js", m), "module.exports = "+fmt.Sprint(m)+";\n"+text(2<<10)))
		}
		layers := []v1.Layer{system, testimage.Layer(b, libs...), testimage.Layer(b, mods...)}
		for i := base; i < fleetImages; i += fleetBases {
			app := testimage.Layer(b, testimage.File(fmt.Sprintf("srv/app%d/config.js", i), fmt.Sprintf("module.exports = {port: %d};\n", 8000+i)),
				testimage.File(fmt.Sprintf("srv/app%d/README", i), text(64<<10)))
			img := testimage.Image(b, v1.Config{Cmd: []string{"node", "server.js"}}, append(layers[:fleetBaseLayers:fleetBaseLayers], app)...)
			push(b, fmt.Sprintf("%s/fleet/app%03d:1", reg, i), img)
		}
	}
	return reg
}

// BenchmarkThroughput sweeps a registry of 200 images built from 5 base
// images and scans them all: images per minute with the embedded store,
// and with one and two worker processes on PostgreSQL, and how many
// layers were analysed against how many distinct layers there are.
// Run with -benchtime=1x.
func BenchmarkThroughput(b *testing.B) {
	reg := fleetRegistry(b)
	b.Run("embedded", func(b *testing.B) {
		for range b.N {
			ts := start(b, b.TempDir(), "")
			b.ResetTimer()
			sweepFleet(b, ts.Server, reg)
		}
	})
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("postgres-%dworkers", workers), func(b *testing.B) {
			b.Setenv(workerBenchEnv, "1")
			for range b.N {
				dsn := testenv.Postgres(b)
				cfg := newConfig(b.TempDir(), dsn)
				cfg.Role = RoleAPI
				api, err := New(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				for w := range workers {
					startWorker(b, dsn, fmt.Sprintf("worker%d", w))
				}
				b.ResetTimer()
				sweepFleet(b, api, reg)
				b.StopTimer()
				api.Close()
			}
		})
	}
}

// sweepFleet sweeps the fleet registry through s's store and waits until
// every image has a stored scan, then reports the figures.
func sweepFleet(b *testing.B, s *Server, reg string) {
	ctx := context.Background()
	began := time.Now()
	id, err := s.store.SaveRegistry(ctx, &store.Registry{URL: reg, PlainHTTP: true}, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.jobs.Insert(ctx, SweepArgs{RegistryID: id}, nil); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var scanned, failed int
		if err := s.store.QueryRow(ctx, `SELECT COUNT(DISTINCT digest) FROM scan`).Scan(&scanned); err != nil {
			b.Fatal(err)
		}
		if err := s.store.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'discarded' OR (kind = 'scan' AND attempt > 1)`).Scan(&failed); err != nil {
			b.Fatal(err)
		}
		if failed > 0 {
			b.Fatalf("%d jobs failed or were retried", failed)
		}
		if scanned == fleetImages {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d images scanned", scanned, fleetImages)
		}
	}
	elapsed := time.Since(began)
	stats, err := s.store.LayerCacheStats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if stats.Entries != fleetDistinct {
		b.Errorf("layer cache holds %d layers, want the %d distinct ones", stats.Entries, fleetDistinct)
	}
	b.ReportMetric(float64(fleetImages)/elapsed.Minutes(), "images/min")
	b.ReportMetric(float64(stats.Puts), "layers-analysed")
	b.ReportMetric(fleetDistinct, "layers-distinct")
	fmt.Fprintf(os.Stderr, "%s: %d images in %.1f s, %d layers analysed, %d distinct\n", b.Name(), fleetImages, elapsed.Seconds(), stats.Puts, fleetDistinct)
}
