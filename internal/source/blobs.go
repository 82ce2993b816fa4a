package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxJSONBytes bounds every index, manifest and configuration read into
// memory.
const maxJSONBytes = 16 << 20

// ErrTooLarge marks an index, manifest or configuration larger than the
// scanner reads (16 MiB): a hostile or broken image.
var ErrTooLarge = errors.New("too large to read")

// blobStore reads content-addressed blobs (an OCI archive, a containerd
// content store, the JSON entries of a streamed archive). Its images and
// indexes are go-containerregistry values, so platform selection and the
// v1 adapter work the same for every such source.
type blobStore interface {
	// blob returns the stored bytes of d, unverified.
	blob(d v1.Hash) (io.ReadCloser, error)
}

// openVerified returns d's bytes, checked against d (and size, when known)
// once they have been read to the end.
func openVerified(s blobStore, d v1.Hash, size int64) (io.ReadCloser, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm", d)
	}
	rc, err := s.blob(d)
	if err != nil {
		return nil, err
	}
	return &verifyReader{rc: rc, h: sha256.New(), want: d, size: size}, nil
}

// readJSONBlob reads a small blob whole, bounded and verified.
func readJSONBlob(s blobStore, d v1.Hash, what string) ([]byte, error) {
	rc, err := openVerified(s, d, -1)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d, err)
	}
	defer rc.Close()
	return readBounded(rc, what+" "+d.String())
}

// verifyReader hashes what passes through it and fails at the end when
// the bytes are not those the digest names.
type verifyReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want v1.Hash
	size int64
	n    int64
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("blob %s: read %d bytes, the manifest says %d: %w", v.want, v.n, v.size, ErrDigestMismatch)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("blob %s: content is sha256:%s: %w", v.want, got, ErrDigestMismatch)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }

// storeIndex is a v1.ImageIndex whose children live in a blobStore.
type storeIndex struct {
	s      blobStore
	raw    []byte
	digest v1.Hash
	m      *v1.IndexManifest
}

func newStoreIndex(s blobStore, raw []byte) (*storeIndex, error) {
	m, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing index: %w", err)
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return &storeIndex{s: s, raw: raw, digest: d, m: m}, nil
}

func (x *storeIndex) MediaType() (types.MediaType, error) {
	if x.m.MediaType != "" {
		return x.m.MediaType, nil
	}
	return types.OCIImageIndex, nil
}
func (x *storeIndex) Digest() (v1.Hash, error)                    { return x.digest, nil }
func (x *storeIndex) Size() (int64, error)                        { return int64(len(x.raw)), nil }
func (x *storeIndex) IndexManifest() (*v1.IndexManifest, error)   { return x.m, nil }
func (x *storeIndex) RawManifest() ([]byte, error)                { return x.raw, nil }
func (x *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) { return x.childIndex(h) }

func (x *storeIndex) childIndex(h v1.Hash) (*storeIndex, error) {
	raw, err := readJSONBlob(x.s, h, "index")
	if err != nil {
		return nil, err
	}
	return newStoreIndex(x.s, raw)
}

func (x *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	raw, err := readJSONBlob(x.s, h, "manifest")
	if err != nil {
		return nil, err
	}
	return newStoreImage(x.s, raw)
}

// storeImage is the core of a v1.Image whose blobs live in a blobStore.
type storeImage struct {
	s   blobStore
	raw []byte
	m   *v1.Manifest
}

func newStoreImage(s blobStore, raw []byte) (v1.Image, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	if m.Config.Digest.Hex == "" {
		return nil, fmt.Errorf("manifest names no configuration")
	}
	return partial.CompressedToImage(&storeImage{s: s, raw: raw, m: m})
}

// imageFromBlob reads the manifest or index that d names; an index is
// narrowed to one image by platform.
func imageFromBlob(s blobStore, d v1.Descriptor, plat *v1.Platform) (v1.Image, error) {
	if d.MediaType.IsIndex() {
		raw, err := readJSONBlob(s, d.Digest, "index")
		if err != nil {
			return nil, err
		}
		idx, err := newStoreIndex(s, raw)
		if err != nil {
			return nil, err
		}
		return pickImage(idx, plat)
	}
	raw, err := readJSONBlob(s, d.Digest, "manifest")
	if err != nil {
		return nil, err
	}
	if d.MediaType == "" && isIndexJSON(raw) {
		idx, err := newStoreIndex(s, raw)
		if err != nil {
			return nil, err
		}
		return pickImage(idx, plat)
	}
	return newStoreImage(s, raw)
}

// isIndexJSON tells an index from a manifest by its fields, for
// descriptors that do not say.
func isIndexJSON(raw []byte) bool {
	var probe struct {
		Manifests json.RawMessage `json:"manifests"`
		Layers    json.RawMessage `json:"layers"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.Manifests != nil && probe.Layers == nil
}

func (i *storeImage) RawConfigFile() ([]byte, error) {
	return readJSONBlob(i.s, i.m.Config.Digest, "configuration")
}

func (i *storeImage) MediaType() (types.MediaType, error) {
	if i.m.MediaType != "" {
		return i.m.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (i *storeImage) RawManifest() ([]byte, error) { return i.raw, nil }

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &storeLayer{s: i.s, d: d}, nil
		}
	}
	if i.m.Config.Digest == h {
		return &storeLayer{s: i.s, d: i.m.Config}, nil
	}
	return nil, fmt.Errorf("manifest has no blob %s", h)
}

// storeLayer is one layer blob, verified as it is read.
type storeLayer struct {
	s blobStore
	d v1.Descriptor
}

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.d.Digest, nil }
func (l *storeLayer) Size() (int64, error)                { return l.d.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.d.MediaType, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error) {
	size := l.d.Size
	if size <= 0 {
		size = -1
	}
	return openVerified(l.s, l.d.Digest, size)
}

func sha256New() hash.Hash { return sha256.New() }
