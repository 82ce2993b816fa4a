package pipeline

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestSharedLayerCache: two workers, each with a local cache of its own
// and the same database, scan at once images built on the same base
// layers; every distinct layer is analysed by one of them exactly once.
func TestSharedLayerCache(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testSharedLayerCache(t, "", t.TempDir()) })
	t.Run("postgres", func(t *testing.T) { testSharedLayerCache(t, testenv.Postgres(t), "") })
}

func testSharedLayerCache(t *testing.T, database, dataDir string) {
	ctx := context.Background()
	st, err := store.Open(ctx, database, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	layer := func(name string) v1.Layer {
		noise := make([]byte, 2<<20)
		_, _ = rand.Read(noise)
		return testimage.Layer(t, testimage.File(name+"/noise", string(noise)), testimage.File(name+"/id", name+"\n"))
	}
	base, lib, tools := layer("base"), layer("lib"), layer("tools")
	images := [][]v1.Layer{
		{base, lib, layer("app0")},
		{base, lib, layer("app1")},
		{base, tools, layer("app2")},
		{base, lib, tools, layer("app3")},
	}
	distinct := map[v1.Hash]bool{}
	var dirs []string
	total := 0
	for _, ls := range images {
		for _, l := range ls {
			d, err := l.DiffID()
			if err != nil {
				t.Fatal(err)
			}
			distinct[d] = true
		}
		total += len(ls)
		dir := t.TempDir()
		lp, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(testimage.Image(t, v1.Config{}, ls...)); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}

	var mu sync.Mutex
	var sum LayerStats
	var wg sync.WaitGroup
	for w := range 2 {
		p, err := New(ctx, Config{Scanners: []string{"secret"}, CacheDir: t.TempDir(), SharedCache: st.LayerCache(), Worker: fmt.Sprintf("worker-%d", w)})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, dir := range dirs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ls, err := p.ScanWith(ctx, dir, p.SourceOptions())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				sum.Cached += ls.Cached
				sum.Walked += ls.Walked
			}()
		}
	}
	wg.Wait()
	if sum.Walked != len(distinct) || sum.Cached+sum.Walked != 2*total {
		t.Errorf("layers analysed %d, cached %d; want %d analysed of %d", sum.Walked, sum.Cached, len(distinct), 2*total)
	}
	stats, err := st.LayerCacheStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Entries != int64(len(distinct)) || stats.Puts != stats.Entries || stats.Claims != 0 {
		t.Errorf("shared cache %+v, want %d entries each stored once and no claim left", stats, len(distinct))
	}

	// A third worker with an empty local cache analyses nothing.
	p, err := New(ctx, Config{Scanners: []string{"secret"}, CacheDir: t.TempDir(), SharedCache: st.LayerCache(), Worker: "late"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, ls, err := p.ScanWith(ctx, dirs[3], p.SourceOptions())
	if err != nil || ls.Walked != 0 || ls.Cached != len(images[3]) {
		t.Errorf("late worker: %+v %v", ls, err)
	}
}
