//go:build unix

package layer

import (
	"os"
	"syscall"
)

// hide removes the temporary file's name at once: the open file lives on
// until it is closed, and nothing is left behind if the process dies.
func hide(f *os.File) (cleanup func(), err error) {
	return func() {}, os.Remove(f.Name())
}

// mapFile maps the first n bytes of f read-only.
func mapFile(f *os.File, n int) ([]byte, func(), error) {
	b, err := syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { syscall.Munmap(b) }, nil
}
