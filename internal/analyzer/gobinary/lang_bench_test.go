package gobinary

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/apk"
	"github.com/customs-scanner/customs/internal/analyzer/dpkg"
	"github.com/customs-scanner/customs/internal/analyzer/java"
	"github.com/customs-scanner/customs/internal/analyzer/npm"
	"github.com/customs-scanner/customs/internal/analyzer/osrelease"
	"github.com/customs-scanner/customs/internal/analyzer/python"
	"github.com/customs-scanner/customs/internal/analyzer/rpm"
	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// langImage is an application image: a node_modules of 1,500 packages
// (with their code files) and its lockfile, a Spring Boot-style jar with 150
// nested jars, and 20 Go executables. It returns the image and how many
// language packages it holds.
func langImage(b *testing.B) (v1.Image, int) {
	rnd := rand.New(rand.NewSource(1))
	code := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = "abcdefghijklmnopqrstuvwxyz(){};= \n"[rnd.Intn(34)]
		}
		return p
	}
	var node []testimage.Entry
	lock := `{"name":"app","version":"1.0.0","lockfileVersion":3,"packages":{"":{"name":"app"}`
	for i := range 1500 {
		dir := fmt.Sprintf("app/node_modules/pkg-%d", i)
		if i%5 == 0 {
			dir = fmt.Sprintf("app/node_modules/@scope%d/pkg-%d", i%7, i)
		}
		name := dir[len("app/node_modules/"):]
		node = append(node, testimage.File(dir+"/package.json", fmt.Sprintf(`{"name":%q,"version":"1.%d.0","description":"%s","license":"MIT","main":"index.js","dependencies":{"pkg-1":"^1.1.0"}}`, name, i, code(200))))
		for _, f := range []string{"index.js", "lib/a.js", "README.md"} {
			node = append(node, testimage.File(dir+"/"+f, string(code(2048))))
		}
		lock += fmt.Sprintf(`,%q:{"version":"1.%d.0","license":"MIT"}`, dir[len("app/"):], i)
	}
	node = append(node, testimage.File("app/package-lock.json", lock+"}}"))

	var fat bytes.Buffer
	zw := zip.NewWriter(&fat)
	for i := range 150 {
		var jar bytes.Buffer
		jw := zip.NewWriter(&jar)
		w, _ := jw.Create(fmt.Sprintf("META-INF/maven/org.example.g%d/lib%d/pom.properties", i%9, i))
		fmt.Fprintf(w, "groupId=org.example.g%d\nartifactId=lib%d\nversion=2.%d\n", i%9, i, i)
		for c := range 30 {
			w, _ := jw.Create(fmt.Sprintf("org/example/lib%d/C%d.class", i, c))
			w.Write(code(4096))
		}
		jw.Close()
		w, _ = zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("BOOT-INF/lib/lib%d-2.%d.jar", i, i), Method: zip.Store})
		w.Write(jar.Bytes())
	}
	zw.Close()

	bin := buildHello(b)
	var bins []testimage.Entry
	for i := range 20 {
		bins = append(bins, testimage.Exec(fmt.Sprintf("usr/local/bin/tool%d", i), bin))
	}
	img := testimage.Image(b, v1.Config{},
		testimage.Layer(b, node...),
		testimage.Layer(b, testimage.File("app/app.jar", fat.String())),
		testimage.Layer(b, bins...),
	)
	return img, 1500 + 150 + 6 // the hello program has 6 modules, the same in each copy
}

// peakHeap samples the heap in use while f runs and returns the highest.
func peakHeap(f func()) uint64 {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInventory scans the application image with the operating-system
// analyzers only (the baseline) and with the language analyzers added,
// without a cache (cold) and from a warm per-layer cache.
func BenchmarkInventory(b *testing.B) {
	img, want := langImage(b)
	osOnly := []analyzer.Analyzer{osrelease.New(), dpkg.New(), apk.New(), rpm.New()}
	withLang := append(append([]analyzer.Analyzer{}, osOnly...), New(), npm.New(), python.New(), java.New())
	for _, c := range []struct {
		name      string
		analyzers []analyzer.Analyzer
		cached    bool
	}{{"os-only/cold", osOnly, false}, {"language/cold", withLang, false}, {"language/cached", withLang, true}} {
		b.Run(c.name, func(b *testing.B) {
			var dir *cache.Dir
			if c.cached {
				var err error
				if dir, err = cache.Open(b.TempDir()); err != nil {
					b.Fatal(err)
				}
			}
			run := func() *scan.Result {
				ra, err := testimage.Open(img)
				if err != nil {
					b.Fatal(err)
				}
				res, err := scan.Run(context.Background(), ra, scan.Options{Analyzers: c.analyzers, Cache: dir})
				if err != nil {
					b.Fatal(err)
				}
				return res
			}
			if c.cached {
				run() // fill the cache
			}
			runtime.GC()
			b.ResetTimer()
			var peak uint64
			cpu0 := cpuTime()
			for b.Loop() {
				var res *scan.Result
				peak = max(peak, peakHeap(func() { res = run() }))
				if len(c.analyzers) > len(osOnly) && len(res.Packages) != want {
					b.Fatalf("%d packages, want %d", len(res.Packages), want)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			// The machine may be shared: CPU time says more than wall time.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}
