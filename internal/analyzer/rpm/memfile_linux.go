package rpm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memoryFile puts b in an anonymous in-memory file (memfd) and returns a
// path that opens it, so a reader that only takes paths can read image
// content without it ever touching the host's disk. close releases it.
func memoryFile(b []byte) (path string, close func(), err error) {
	fd, err := unix.MemfdCreate("customs-rpmdb", unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "rpmdb")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", nil, fmt.Errorf("writing the in-memory copy: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { f.Close() }, nil
}
