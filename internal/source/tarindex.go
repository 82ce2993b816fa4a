package source

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Limits on what an archive index holds, so a hostile archive cannot make
// the index grow without bound.
const (
	maxArchiveEntries = 1 << 20
	maxLinkHops       = 16
)

// tarEntry locates one entry's data inside an uncompressed tar file.
type tarEntry struct {
	off, size int64
	typ       byte
	link      string
}

// tarIndex lists the entries of an uncompressed tar file once, skipping
// their data by seeking, so that each can later be read on its own (and
// several in parallel).
type tarIndex struct {
	name    string
	f       *os.File
	entries map[string]*tarEntry
}

// indexTar reads the headers of the tar file f.
func indexTar(name string, f *os.File) (*tarIndex, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	ix := &tarIndex{name: name, f: f, entries: map[string]*tarEntry{}}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		if n >= maxArchiveEntries {
			return nil, fmt.Errorf("archive %s has more than %d entries; it is not an image archive", name, maxArchiveEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("archive %s is damaged or truncated (%v); save the image again", name, err)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		if off+h.Size > fi.Size() {
			return nil, fmt.Errorf("archive %s is truncated: entry %s ends past the end of the file; save the image again", name, h.Name)
		}
		p := archivePath(h.Name)
		if p == "" {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
			ix.entries[p] = &tarEntry{off: off, size: h.Size, typ: h.Typeflag, link: h.Linkname}
		}
	}
	return ix, nil
}

// archivePath cleans an entry name or a name from a manifest: relative,
// no "./", no leading slash ("" for the root). Names only key the index:
// nothing is ever written to disk.
func archivePath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// blobPath is where an OCI layout keeps the blob d.
func blobPath(d v1.Hash) string {
	return "blobs/" + d.Algorithm + "/" + d.Hex
}

// lookup finds the regular entry that name designates, following links
// inside the archive.
func (ix *tarIndex) lookup(name string) (*tarEntry, error) {
	p := archivePath(name)
	for hop := 0; hop <= maxLinkHops; hop++ {
		e, ok := ix.entries[p]
		if !ok {
			return nil, fmt.Errorf("archive %s has no entry %s (the archive is incomplete; save the image again)", ix.name, name)
		}
		switch e.typ {
		case tar.TypeReg:
			return e, nil
		case tar.TypeSymlink:
			if path.IsAbs(e.link) {
				p = archivePath(e.link)
			} else {
				p = archivePath(path.Join(path.Dir(p), e.link))
			}
		case tar.TypeLink:
			p = archivePath(e.link)
		}
	}
	return nil, fmt.Errorf("archive %s: too many links from %s", ix.name, name)
}

// section returns a reader of the entry's data.
func (ix *tarIndex) section(name string) (*io.SectionReader, error) {
	e, err := ix.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(ix.f, e.off, e.size), nil
}

// readSmall reads a whole entry of at most maxJSONBytes.
func (ix *tarIndex) readSmall(name string) ([]byte, error) {
	sr, err := ix.section(name)
	if err != nil {
		return nil, err
	}
	if sr.Size() > maxJSONBytes {
		return nil, fmt.Errorf("archive %s: %s is larger than %d bytes", ix.name, name, maxJSONBytes)
	}
	b := make([]byte, sr.Size())
	if _, err := io.ReadFull(sr, b); err != nil {
		return nil, fmt.Errorf("archive %s: reading %s: %w", ix.name, name, err)
	}
	return b, nil
}

// blob reads "blobs/<alg>/<hex>", the OCI layout's place for a blob.
func (ix *tarIndex) blob(d v1.Hash) (io.ReadCloser, error) {
	sr, err := ix.section(blobPath(d))
	if err != nil {
		return nil, err
	}
	return io.NopCloser(sr), nil
}

// compressedMagic reports whether the data of name begins like gzip or zstd.
func (ix *tarIndex) compressedMagic(name string) bool {
	sr, err := ix.section(name)
	if err != nil {
		return false
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(sr, head)
	return isCompressed(head[:n])
}

func isCompressed(head []byte) bool {
	return bytes.HasPrefix(head, []byte{0x1f, 0x8b}) || bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd})
}
