package source

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// openOCILayout opens an OCI image layout directory. When its index holds
// several images (or a nested multi-platform index) the platform picks one.
// index.json, manifests and the configuration are read bounded, and every
// blob is checked against its digest.
func openOCILayout(_ context.Context, dir string, o *Options) (Image, error) {
	ld := layoutDir(dir)
	raw, err := readFileBounded(filepath.Join(dir, "index.json"), "OCI layout "+dir+": index.json")
	if err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	idx, err := newStoreIndex(ld, raw)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: index.json: %w", dir, err)
	}
	img, err := pickImage(idx, o.Platform)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return FromV1(img, dir, KindOCILayout, "")
}

// layoutDir reads the blobs of an OCI layout directory.
type layoutDir string

func (d layoutDir) blob(h v1.Hash) (io.ReadCloser, error) {
	if !validHex(h.Hex) {
		return nil, fmt.Errorf("blob %s: not a valid digest", h)
	}
	f, err := os.Open(filepath.Join(string(d), "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", string(d), err)
	}
	return f, nil
}

func validHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// readFileBounded reads a small file (an index, a manifest) whole, failing
// with an error naming what when it is larger than maxJSONBytes.
func readFileBounded(p, what string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, what)
}

// readBounded reads r whole, at most maxJSONBytes, failing with an error
// naming what when there is more.
func readBounded(r io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxJSONBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(b) > maxJSONBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", what, maxJSONBytes, ErrTooLarge)
	}
	return b, nil
}

// HostPlatform is the platform of the running scanner, the default choice
// in a multi-platform index.
func HostPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// pickImage chooses one image from an index: the only one there is, or
// the one matching the platform (default: the host's), descending into
// nested indexes.
func pickImage(idx v1.ImageIndex, want *v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	plat := HostPlatform()
	if want != nil {
		plat = *want
	}
	var candidates []v1.Descriptor
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() || d.MediaType.IsIndex() {
			candidates = append(candidates, d)
		}
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("index holds no image")
	}
	var seen []string
	for _, d := range candidates {
		if len(candidates) > 1 && d.Platform != nil {
			seen = append(seen, d.Platform.String())
			if !d.Platform.Satisfies(plat) {
				continue
			}
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading nested index %s: %w", d.Digest, err)
			}
			return pickImage(child, want)
		}
		return idx.Image(d.Digest)
	}
	return nil, fmt.Errorf("no image for platform %s in the index (it has %v); pick one with --platform", plat.String(), seen)
}
