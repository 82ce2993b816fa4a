package source

import (
	"context"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// openOCILayout opens an OCI image layout directory. When its index holds
// several images (or a nested multi-platform index) the platform picks one.
func openOCILayout(_ context.Context, dir string, o *Options) (Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index.json: %w", err)
	}
	img, err := pickImage(idx, o.Platform)
	if err != nil {
		return nil, err
	}
	return FromV1(img, dir, KindOCILayout, "")
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
