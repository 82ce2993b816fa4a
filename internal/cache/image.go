package cache

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Whole-image results are what a rescan of an unchanged image reads, and
// all it reads: they are stored with encoding/gob, which decodes a report
// of a thousand findings several times faster than JSON. Layers stay JSON,
// the form the shared tier holds.

// GetImage decodes into v the whole-image result stored for key (see
// internal/pipeline), and reports whether there was one.
func (d *Dir) GetImage(key string, v any) bool {
	return d.get(d.imagePath(key), v, decodeImage)
}

// PutImage stores a whole-image result under key, atomically.
func (d *Dir) PutImage(key string, v any) error {
	return d.put(d.imagePath(key), v, encodeImage)
}

func encodeImage(v any) ([]byte, error) {
	return gzipped(v, func(w io.Writer) encoder { return gob.NewEncoder(w) })
}

// maxImage bounds the bytes a whole-image entry may expand to.
const maxImage = 256 << 20

// decodeImage reads an entry written by encodeImage into v. The entry is
// inflated whole first, so that gzip's checksum rejects a damaged file
// before gob reads any of it: gob trusts the lengths it reads, and the
// cache directory is this user's alone, so damage is all it must survive.
func decodeImage(r io.Reader, v any) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxImage+1))
	if err != nil {
		return err
	}
	if len(b) > maxImage {
		return fmt.Errorf("whole-image entry larger than %d bytes", maxImage)
	}
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v)
}
