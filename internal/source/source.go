// Package source opens what a user calls an image (a registry reference, a
// local image in Docker, containerd or Podman, a docker-save tarball, an OCI
// layout or archive, or a root filesystem directory) and presents it as
// metadata plus a way to read each layer's bytes.
package source

import (
	"context"
	"errors"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Kinds of source, as reported in artifact.source.
const (
	KindRegistry      = "registry"
	KindDocker        = "docker"
	KindContainerd    = "containerd"
	KindPodman        = "podman"
	KindDockerArchive = "docker-archive"
	KindOCILayout     = "oci-layout"
	KindOCIArchive    = "oci-archive"
	KindRootFS        = "rootfs"
)

// Meta describes an opened image.
type Meta struct {
	// Input is what the user asked for.
	Input string
	// Kind is one of the Kind* constants.
	Kind string
	// Name is the resolved reference (e.g. "index.docker.io/library/nginx:1.25"), when there is one.
	Name string
	// Digest identifies the image: the manifest digest where there is a
	// manifest, else the config digest (image ID).
	Digest string
	// Config is the image configuration (nil for a root filesystem).
	Config *v1.ConfigFile
	// Layers lists the layers, lowest first.
	Layers []LayerMeta
	// PlainHTTP is true when the image was pulled over plain HTTP.
	PlainHTTP bool
	// IndexDigest is the digest of the index (manifest list) the
	// reference resolved through, when it did; Digest is then the chosen
	// platform's image.
	IndexDigest string
	// RepoDigests are the registry references (repo@sha256:...) a local
	// engine records for the image: where it was pulled from or pushed to.
	RepoDigests []string
}

// LayerMeta describes one layer.
type LayerMeta struct {
	// Digest of the blob as stored (compressed), when known.
	Digest string
	// DiffID is the digest of the uncompressed layer; empty when unknown
	// (a root filesystem), which disables caching for the layer.
	DiffID string
	// Size of the blob as stored, when known.
	Size int64
}

// Image is an opened image. Every Image also implements exactly one of
// RandomAccess or Streaming.
type Image interface {
	Meta() *Meta
	Close() error
}

// RandomAccess is an Image whose layers can be read independently, and so
// in parallel.
type RandomAccess interface {
	Image
	// OpenLayer returns the bytes of layer i as stored (compressed or not).
	// Reading it to EOF verifies its digest where the source allows.
	OpenLayer(ctx context.Context, i int) (io.ReadCloser, error)
}

// Streaming is an Image whose layers arrive one after another in a single
// stream (a Docker Engine's image export, a gzip-compressed docker-save
// archive).
type Streaming interface {
	Image
	// StreamLayers calls fn with each layer's bytes in the order the
	// stream holds them, which need not be the image's layer order. The
	// caller identifies each layer by hashing its uncompressed bytes.
	StreamLayers(ctx context.Context, fn func(r io.Reader) error) error
}

// Warner is implemented by images whose reading can lose parts without
// failing (a root filesystem with unreadable entries). Once every layer has
// been read, Warnings lists what was skipped or left out, each naming the
// path, and incomplete says whether the scan misses part of the image
// (an informational note alone leaves it false). It is safe to call after
// the layer readers are closed.
type Warner interface {
	Warnings() (warnings []string, incomplete bool)
}

// ErrDigestMismatch marks a blob whose bytes are not those its digest names:
// a tampering proxy or a corrupted store. Readers returned by OpenLayer and
// StreamLayers wrap it when verification fails at the end of a blob.
var ErrDigestMismatch = errors.New("content does not match its digest")
