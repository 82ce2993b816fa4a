package source

import (
	"context"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// v1Image adapts a go-containerregistry image whose layers are stored as
// blobs (a registry, an OCI layout, a containerd content store).
type v1Image struct {
	meta   Meta
	layers []v1.Layer
	close  func() error
}

// FromV1 opens a go-containerregistry image whose layers can be read as
// stored blobs. It reads the manifest and configuration, not the layers.
func FromV1(img v1.Image, input, kind, name string) (RandomAccess, error) {
	if err := checkSizes(img); err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image configuration: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layer list: %w", err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("manifest lists %d layers but the configuration lists %d diff IDs", len(layers), len(cfg.RootFS.DiffIDs))
	}
	m := Meta{Input: input, Kind: kind, Name: name, Digest: digest.String(), Config: cfg}
	for i, l := range layers {
		lm := LayerMeta{DiffID: cfg.RootFS.DiffIDs[i].String()}
		if d, err := l.Digest(); err == nil {
			lm.Digest = d.String()
		}
		if s, err := l.Size(); err == nil {
			lm.Size = s
		}
		m.Layers = append(m.Layers, lm)
	}
	return &v1Image{meta: m, layers: layers, close: func() error { return nil }}, nil
}

// checkSizes refuses a manifest or a configuration larger than
// maxJSONBytes before the configuration is read: go-containerregistry reads
// a configuration blob whole, up to the size the manifest states.
func checkSizes(img v1.Image) error {
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	if len(raw) > maxJSONBytes {
		return fmt.Errorf("image manifest is larger than %d bytes: %w", maxJSONBytes, ErrTooLarge)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	switch size := m.Config.Size; {
	case m.Config.Data != nil:
		// Embedded in the manifest, already bounded.
	case size > maxJSONBytes:
		return fmt.Errorf("image configuration %s is %d bytes, larger than %d: %w", m.Config.Digest, size, maxJSONBytes, ErrTooLarge)
	case size < 0:
		return fmt.Errorf("image configuration %s has a negative size in the manifest", m.Config.Digest)
	}
	return nil
}

func (v *v1Image) Meta() *Meta  { return &v.meta }
func (v *v1Image) Close() error { return v.close() }

// OpenLayer returns the stored blob of layer i. go-containerregistry
// verifies the blob's digest when it is read to the end.
func (v *v1Image) OpenLayer(_ context.Context, i int) (io.ReadCloser, error) {
	rc, err := v.layers[i].Compressed()
	if err != nil {
		return nil, markMismatch(fmt.Errorf("opening layer %s: %w", v.meta.Layers[i].Digest, err))
	}
	return checksumErrors{rc}, nil
}

// checksumErrors marks go-containerregistry's verification failures as
// ErrDigestMismatch.
type checksumErrors struct{ io.ReadCloser }

func (c checksumErrors) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = markMismatch(err)
	}
	return n, err
}

// markMismatch wraps ErrDigestMismatch around go-containerregistry's errors
// for a blob whose digest ("error verifying sha256 checksum") or size
// ("does not match expected size") is not the manifest's.
func markMismatch(err error) error {
	if msg := err.Error(); strings.Contains(msg, "checksum") || strings.Contains(msg, "does not match expected size") {
		return fmt.Errorf("%w: %w", ErrDigestMismatch, err)
	}
	return err
}
