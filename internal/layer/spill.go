package layer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// errSpill marks a failure to hold a file on disk (no space, no temporary
// directory): a property of the machine, not of the layer.
var errSpill = errors.New("spilling to a temporary file failed")

// spill copies the next n bytes of r, through buf, into a temporary file
// that no other process can open by name, and maps that file read-only
// into memory. The mapping's pages belong to the operating system's file
// cache, not to the heap: a file larger than the in-memory budget is read
// whole without holding its bytes in memory, and the kernel may drop the
// pages analyzers are done with. release unmaps and deletes the file.
// An error wrapping errSpill comes from the disk or the mapping; any other
// comes from r.
func spill(r io.Reader, n int64, buf []byte) (data []byte, release func(), err error) {
	if n <= 0 || n > math.MaxInt {
		return nil, nil, fmt.Errorf("%w: cannot map %d bytes", errSpill, n)
	}
	f, err := os.CreateTemp("", "customs-file-*")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errSpill, err)
	}
	cleanup, err := hide(f)
	if err != nil {
		f.Close()
		cleanup()
		return nil, nil, fmt.Errorf("%w: %v", errSpill, err)
	}
	fail := func(err error) ([]byte, func(), error) {
		f.Close()
		cleanup()
		return nil, nil, err
	}
	for left := n; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		got, rerr := io.ReadFull(r, chunk)
		if got > 0 {
			if _, werr := f.Write(chunk[:got]); werr != nil {
				return fail(fmt.Errorf("%w: %v", errSpill, werr))
			}
		}
		if rerr != nil {
			return fail(rerr)
		}
		left -= int64(got)
	}
	data, unmap, err := mapFile(f, int(n))
	if err != nil {
		return fail(fmt.Errorf("%w: %v", errSpill, err))
	}
	return data, func() {
		unmap()
		f.Close()
		cleanup()
	}, nil
}
