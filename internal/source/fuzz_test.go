package source

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzArchive opens arbitrary bytes as a docker-save archive and as an OCI
// archive (plain or gzip) and reads every layer they name: the tar index,
// manifest.json, index.json, manifest and configuration parsing, link
// resolution and platform selection must fail cleanly, never panic.
func FuzzArchive(f *testing.F) {
	dir := f.TempDir()
	// Hostile sizes: a configuration claimed to be 1 TiB, one of size -1
	// (which would lift go-containerregistry's bound), and an empty one.
	for _, size := range []int64{1 << 40, -1, 0} {
		f.Add(tarFiles(f, hostileLayout(size)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "archive.tar")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, open := range []opener{openDockerArchive, openOCIArchive} {
			img, err := open(context.Background(), p, &Options{})
			if err != nil {
				continue
			}
			readLayers(t, img)
			img.Close()
		}
	})
}

func readLayers(t *testing.T, img Image) {
	ctx := context.Background()
	switch s := img.(type) {
	case RandomAccess:
		for i := range s.Meta().Layers {
			rc, err := s.OpenLayer(ctx, i)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
			rc.Close()
		}
	case Streaming:
		_ = s.StreamLayers(ctx, func(r io.Reader) error {
			_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			return err
		})
	default:
		t.Fatalf("%T is neither random-access nor streaming", img)
	}
}
