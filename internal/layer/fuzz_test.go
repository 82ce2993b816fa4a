package layer_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/testimage"
)

// FuzzWalk feeds arbitrary bytes to the layer walker: it must never panic,
// and must stay within its limits.
func FuzzWalk(f *testing.F) {
	f.Add(testimage.Tar(f, testimage.File("etc/os-release", "ID=debian\n"), testimage.Symlink("a", "../../b"), testimage.Whiteout("x/y")))
	f.Add(testimage.Tar(f, testimage.File("../evil", "x"), testimage.Hardlink("h", "/etc/passwd"), testimage.Opaque("d")))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := newRecorder(all)
		lim := layer.Limits{MaxFileBytes: 1 << 16, MaxLayerBytes: 8 << 20, MaxEntries: 10000}
		w, _ := layer.Walk(context.Background(), bytes.NewReader(data), []analyzer.Analyzer{rec}, lim)
		if w == nil {
			t.Fatal("nil result")
		}
		for p, c := range rec.seen {
			if len(c) > 1<<16 {
				t.Fatalf("%s: %d bytes handed over past the per-file limit", p, len(c))
			}
			if len(p) > 0 && (p[0] == '/' || p == ".." || bytes.HasPrefix([]byte(p), []byte("../"))) {
				t.Fatalf("unclean path %q handed to an analyzer", p)
			}
		}
		layer.NewView([]*layer.Index{&w.Index, &w.Index})
	})
}
