package java

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
)

// fatJarBytes is larger than the walk's in-memory budget for large files.
const fatJarBytes = 80 << 20

// writeFatJar writes, under dir, a Spring Boot style jar of more than
// fatJarBytes: its own pom.properties, a large stored entry of random
// (incompressible) bytes, and a nested jar with a pom.properties of its own.
func writeFatJar(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "app-1.0.jar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	put("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
	put("META-INF/maven/com.example/app/pom.properties", "groupId=com.example\nartifactId=app\nversion=1.0\n")
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "BOOT-INF/classes/blob.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(w, rng, fatJarBytes); err != nil {
		t.Fatal(err)
	}
	var inner bytes.Buffer
	iz := zip.NewWriter(&inner)
	iw, _ := iz.Create("META-INF/maven/org.example/lib/pom.properties")
	io.WriteString(iw, "groupId=org.example\nartifactId=lib\nversion=2.3.4\n")
	iz.Close()
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "BOOT-INF/lib/lib-2.3.4.jar", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(inner.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// layerOf streams a one-file layer holding the file at p as opt/app.jar,
// without holding the file in memory.
func layerOf(t testing.TB, p string) io.Reader {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		f, err := os.Open(p)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		defer f.Close()
		tw := tar.NewWriter(pw)
		if err := tw.WriteHeader(&tar.Header{Name: "opt/app.jar", Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg}); err != nil {
			pw.CloseWithError(err)
			return
		}
		if _, err := io.Copy(tw, f); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

// TestFatJarOverTheMemoryBudget: a jar larger than the in-memory budget is
// read whole and inventoried, its nested jar included, while the walk
// allocates far less than the jar's size.
func TestFatJarOverTheMemoryBudget(t *testing.T) {
	p := writeFatJar(t, t.TempDir())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := layer.Walk(context.Background(), layerOf(t, p), []analyzer.Analyzer{New()}, layer.Limits{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Result.Warnings) > 0 {
		t.Fatalf("warnings: %q", w.Result.Warnings)
	}
	got := found(w.Result.Packages, "")
	want := []string{"opt/app.jar com.example:app@1.0", "opt/app.jar org.example:lib@2.3.4"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("packages = %q, want %q", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > fatJarBytes/4 {
		t.Fatalf("the walk allocated %d MiB for an %d MiB jar", alloc>>20, fatJarBytes>>20)
	}
}

// BenchmarkFatJar reports the heap a walk of a fat jar layer needs: the
// highest heap in use while it runs (sampled), and the bytes it allocates.
func BenchmarkFatJar(b *testing.B) {
	p := writeFatJar(b, b.TempDir())
	b.ReportAllocs()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	for b.Loop() {
		if _, err := layer.Walk(context.Background(), layerOf(b, p), []analyzer.Analyzer{New()}, layer.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak-heap-MiB")
}
