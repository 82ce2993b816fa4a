//go:build !unix

package layer

import (
	"io"
	"os"
)

// hide leaves the name in place (an open file cannot be removed here); the
// file is removed when released.
func hide(f *os.File) (cleanup func(), err error) {
	return func() { os.Remove(f.Name()) }, nil
}

// mapFile reads the first n bytes of f back into memory: without a Unix
// mmap, a spilled file costs its size in memory while it is analysed.
func mapFile(f *os.File, n int) ([]byte, func(), error) {
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return b, func() {}, nil
}
