package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dockerManifest is one element of a docker-save archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// maxArchiveLayers bounds the layers one manifest may list.
const maxArchiveLayers = 10000

// parseDockerManifest parses manifest.json and checks that it names a
// configuration and a bounded number of layers for each image.
func parseDockerManifest(b []byte) ([]dockerManifest, error) {
	var ms []dockerManifest
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json is not valid: %w", err)
	}
	if len(ms) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	for i, m := range ms {
		if m.Config == "" {
			return nil, fmt.Errorf("manifest.json: image %d names no configuration", i)
		}
		if len(m.Layers) > maxArchiveLayers {
			return nil, fmt.Errorf("manifest.json: image %d lists %d layers (more than %d)", i, len(m.Layers), maxArchiveLayers)
		}
	}
	return ms, nil
}

// archiveMeta builds the metadata of image m of an archive from its raw
// configuration.
func archiveMeta(input, kind string, m dockerManifest, rawCfg []byte) (Meta, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return Meta{}, fmt.Errorf("configuration %s is not valid: %w", m.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return Meta{}, fmt.Errorf("manifest.json lists %d layers but the configuration lists %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	id, _, err := v1.SHA256(bytes.NewReader(rawCfg))
	if err != nil {
		return Meta{}, err
	}
	meta := Meta{Input: input, Kind: kind, Digest: id.String(), Config: cfg}
	if len(m.RepoTags) > 0 {
		meta.Name = m.RepoTags[0]
	}
	for _, d := range cfg.RootFS.DiffIDs {
		meta.Layers = append(meta.Layers, LayerMeta{DiffID: d.String()})
	}
	return meta, nil
}

// blobDigest returns the digest that an OCI-layout blob path names.
func blobDigest(p string) (v1.Hash, bool) {
	rest, ok := strings.CutPrefix(archivePath(p), "blobs/sha256/")
	if !ok {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash("sha256:" + rest)
	return h, err == nil
}

// dockerArchive is an uncompressed docker-save archive; its layers are
// read in place, in parallel.
type dockerArchive struct {
	meta   Meta
	ix     *tarIndex
	layers []string
}

func openDockerArchive(_ context.Context, input string, o *Options) (Image, error) {
	f, err := os.Open(input)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil {
		f.Close()
		return nil, fmt.Errorf("archive %s is empty or unreadable: %w", input, err)
	}
	var img Image
	if bytes.Equal(head, []byte{0x1f, 0x8b}) {
		img, err = openGzipArchive(input, f, o.Platform)
	} else {
		img, err = openPlainDockerArchive(input, f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return img, nil
}

func openPlainDockerArchive(input string, f *os.File) (Image, error) {
	ix, err := indexTar(input, f)
	if err != nil {
		return nil, err
	}
	raw, err := ix.readSmall("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("%w (is this a docker save archive?)", err)
	}
	ms, err := parseDockerManifest(raw)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	m := ms[0] // several images: the first one, as docker load lists them
	rawCfg, err := ix.readSmall(m.Config)
	if err != nil {
		return nil, err
	}
	meta, err := archiveMeta(input, KindDockerArchive, m, rawCfg)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	for i, l := range m.Layers {
		e, err := ix.lookup(l)
		if err != nil {
			return nil, err
		}
		meta.Layers[i].Size = e.size
		if d, ok := blobDigest(l); ok {
			meta.Layers[i].Digest = d.String()
		} else if !ix.compressedMagic(l) {
			meta.Layers[i].Digest = meta.Layers[i].DiffID
		}
	}
	return &dockerArchive{meta: meta, ix: ix, layers: m.Layers}, nil
}

func (a *dockerArchive) Meta() *Meta  { return &a.meta }
func (a *dockerArchive) Close() error { return a.ix.f.Close() }

// OpenLayer reads layer i in place. A layer stored as an OCI blob is
// checked against its digest; every layer is checked against its diff ID
// by the engine.
func (a *dockerArchive) OpenLayer(_ context.Context, i int) (io.ReadCloser, error) {
	sr, err := a.ix.section(a.layers[i])
	if err != nil {
		return nil, err
	}
	if d, ok := blobDigest(a.layers[i]); ok {
		return &verifyReader{rc: io.NopCloser(sr), h: sha256New(), want: d, size: sr.Size()}, nil
	}
	return io.NopCloser(sr), nil
}

// gzipArchive is a gzip-compressed docker-save or OCI archive. It is read
// as one stream: once when opened, keeping only small JSON entries, and once
// more to hand over the layers.
type gzipArchive struct {
	meta   Meta
	f      *os.File
	layers map[string]v1.Hash // entry name -> digest to verify (zero: none)
}

// maxKeptJSON bounds the JSON entries the first pass over a compressed
// archive keeps.
const maxKeptJSON = 64 << 20

func openGzipArchive(input string, f *os.File, plat *v1.Platform) (Image, error) {
	jsons, links, err := scanGzipArchive(input, f)
	if err != nil {
		return nil, err
	}
	resolve := func(p string) string {
		p = archivePath(p)
		for hop := 0; hop < maxLinkHops; hop++ {
			t, ok := links[p]
			if !ok {
				break
			}
			p = t
		}
		return p
	}
	g := &gzipArchive{f: f, layers: map[string]v1.Hash{}}
	if raw, ok := jsons["manifest.json"]; ok {
		ms, err := parseDockerManifest(raw)
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", input, err)
		}
		m := ms[0]
		rawCfg, ok := jsons[resolve(m.Config)]
		if !ok {
			return nil, fmt.Errorf("archive %s has no configuration %s (the archive is incomplete; save the image again)", input, m.Config)
		}
		if g.meta, err = archiveMeta(input, KindDockerArchive, m, rawCfg); err != nil {
			return nil, fmt.Errorf("archive %s: %w", input, err)
		}
		for i, l := range m.Layers {
			d, _ := blobDigest(l)
			g.layers[resolve(l)] = d
			if d.Hex != "" {
				g.meta.Layers[i].Digest = d.String()
			}
		}
		return g, nil
	}
	raw, ok := jsons["index.json"]
	if !ok {
		return nil, fmt.Errorf("archive %s holds neither manifest.json nor index.json: it is not an image archive", input)
	}
	store := memStore{}
	for p, b := range jsons {
		if d, ok := blobDigest(p); ok {
			store[d] = b
		}
	}
	idx, err := newStoreIndex(store, raw)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	img, err := pickImage(idx, plat)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	ra, err := FromV1(img, input, KindOCIArchive, "")
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", input, err)
	}
	g.meta = *ra.Meta()
	for _, l := range g.meta.Layers {
		d, err := v1.NewHash(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("archive %s: layer digest %q: %w", input, l.Digest, err)
		}
		g.layers[blobPath(d)] = d
	}
	return g, nil
}

// scanGzipArchive makes the first pass: small JSON entries by name, and
// links between entries.
func scanGzipArchive(input string, f *os.File) (map[string][]byte, map[string]string, error) {
	jsons := map[string][]byte{}
	links := map[string]string{}
	kept := 0
	err := eachGzipEntry(context.Background(), input, f, func(p string, h *tar.Header, r *bufio.Reader) error {
		switch h.Typeflag {
		case tar.TypeSymlink:
			links[p] = archivePath(pathJoinLink(p, h.Linkname))
			return nil
		case tar.TypeLink:
			links[p] = archivePath(h.Linkname)
			return nil
		}
		if h.Size > maxJSONBytes || !looksLikeJSON(r) {
			return nil
		}
		if kept += int(h.Size); kept > maxKeptJSON {
			return fmt.Errorf("archive %s: more than %d bytes of JSON entries", input, maxKeptJSON)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		jsons[p] = b
		return nil
	})
	if len(links) > maxArchiveEntries {
		return nil, nil, fmt.Errorf("archive %s has too many links", input)
	}
	return jsons, links, err
}

func pathJoinLink(p, target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	dir := ""
	if i := strings.LastIndex(p, "/"); i >= 0 {
		dir = p[:i+1]
	}
	return dir + target
}

// looksLikeJSON peeks at the first non-blank byte.
func looksLikeJSON(r *bufio.Reader) bool {
	for i := 1; i <= 64; i++ {
		b, err := r.Peek(i)
		if err != nil || len(b) < i {
			return false
		}
		switch b[i-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// eachGzipEntry decompresses the archive in f from its start and calls fn
// with every regular file, symlink and hard link entry, the entry data
// readable from r (bounded by the entry size).
func eachGzipEntry(ctx context.Context, input string, f *os.File, fn func(p string, h *tar.Header, r *bufio.Reader) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("archive %s: %w", input, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	br := bufio.NewReaderSize(tr, 64<<10)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= maxArchiveEntries {
			return fmt.Errorf("archive %s has more than %d entries; it is not an image archive", input, maxArchiveEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive %s is damaged or truncated (%v); save the image again", input, err)
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
		default:
			continue
		}
		p := archivePath(h.Name)
		br.Reset(tr)
		if err := fn(p, h, br); err != nil {
			return err
		}
	}
}

func (g *gzipArchive) Meta() *Meta  { return &g.meta }
func (g *gzipArchive) Close() error { return g.f.Close() }

// StreamLayers decompresses the archive once more and hands over each
// layer entry as it passes.
func (g *gzipArchive) StreamLayers(ctx context.Context, fn func(r io.Reader) error) error {
	return eachGzipEntry(ctx, g.meta.Input, g.f, func(p string, h *tar.Header, r *bufio.Reader) error {
		d, ok := g.layers[p]
		if !ok || h.Typeflag != tar.TypeReg {
			return nil
		}
		if d.Hex != "" {
			return fn(&verifyReader{rc: io.NopCloser(r), h: sha256New(), want: d, size: h.Size})
		}
		return fn(r)
	})
}

// memStore is a blobStore of blobs held in memory.
type memStore map[v1.Hash][]byte

func (m memStore) blob(d v1.Hash) (io.ReadCloser, error) {
	b, ok := m[d]
	if !ok {
		return nil, fmt.Errorf("the archive has no blob %s", d)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
