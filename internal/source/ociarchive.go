package source

import (
	"context"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// openOCIArchive opens a tar of an OCI image layout in place: its entries
// are indexed once and its blobs read (in parallel) where they lie, each
// checked against its digest. A gzip-compressed one is streamed instead.
func openOCIArchive(_ context.Context, input string, o *Options) (Image, error) {
	f, err := os.Open(input)
	if err != nil {
		return nil, err
	}
	img, err := openOCIArchiveFile(input, f, o.Platform)
	if err != nil {
		f.Close()
		return nil, err
	}
	return img, nil
}

func openOCIArchiveFile(input string, f *os.File, plat *v1.Platform) (Image, error) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("archive %s is empty or unreadable: %w", input, err)
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		return openGzipArchive(input, f, plat)
	}
	ix, err := indexTar(input, f)
	if err != nil {
		return nil, err
	}
	raw, err := ix.readSmall("index.json")
	if err != nil {
		return nil, fmt.Errorf("%w (is this an OCI archive?)", err)
	}
	idx, err := newStoreIndex(ix, raw)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	img, err := pickImage(idx, plat)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	ra, err := FromV1(img, input, KindOCIArchive, refName(idx.m))
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	return withClose(ra, f.Close), nil
}

// refName is the reference an index gives its only image, if any.
func refName(m *v1.IndexManifest) string {
	if len(m.Manifests) != 1 {
		return ""
	}
	return m.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
}

// closingImage releases a resource when the image is closed.
type closingImage struct {
	RandomAccess
	close func() error
}

func withClose(ra RandomAccess, close func() error) RandomAccess {
	return &closingImage{RandomAccess: ra, close: close}
}

func (c *closingImage) Close() error {
	err := c.RandomAccess.Close()
	if cerr := c.close(); err == nil {
		err = cerr
	}
	return err
}
