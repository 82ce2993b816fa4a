package layer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// errSpill marks a failure to hold a file on disk (no space left): a
// property of the machine, not of the layer.
var errSpill = errors.New("spilling to a temporary file failed")

// errNoTempFile marks a spill that could not start (no writable temporary
// directory, no mmap for the size): nothing was read yet.
var errNoTempFile = errors.New("no temporary file for a large file")

// spill copies the next n bytes of r, through buf, into a temporary file
// that no other process can open by name, and maps that file read-only
// into memory. The mapping's pages belong to the operating system's file
// cache, not to the heap: a file larger than the in-memory budget is read
// whole without holding its bytes in memory, and the kernel may drop the
// pages analyzers are done with. release unmaps and deletes the file.
// An error wrapping errNoTempFile means nothing was read from r; one
// wrapping errSpill comes from the disk or the mapping; any other comes
// from r.
func spill(r io.Reader, n int64, buf []byte) (data []byte, release func(), err error) {
	if n <= 0 || n > math.MaxInt {
		return nil, nil, fmt.Errorf("%w: cannot map %d bytes", errNoTempFile, n)
	}
	f, err := os.CreateTemp("", "customs-file-*")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errNoTempFile, err)
	}
	cleanup, err := hide(f)
	if err != nil {
		f.Close()
		cleanup()
		return nil, nil, fmt.Errorf("%w: %v", errNoTempFile, err)
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
	mapped(n)
	return data, func() {
		unmap()
		mapped(-n)
		f.Close()
		cleanup()
	}, nil
}

// The pages of a spilled file that analyzers touch count in the process's
// memory like heap, but the runtime's soft memory limit does not see them.
// While files are mapped the limit is lowered by their size (to no less
// than half of it), so that the collector makes room for them rather than
// letting the heap grow next to the mapping.
var (
	mappedMu    sync.Mutex
	mappedBytes int64
	limitBefore int64 // the limit while nothing is mapped
)

// mapped records n more (negative: fewer) bytes mapped.
func mapped(n int64) {
	mappedMu.Lock()
	defer mappedMu.Unlock()
	if mappedBytes == 0 {
		limitBefore = debug.SetMemoryLimit(-1)
	}
	mappedBytes += n
	switch {
	case limitBefore == math.MaxInt64:
		// No limit to keep.
	case mappedBytes == 0:
		debug.SetMemoryLimit(limitBefore)
	default:
		debug.SetMemoryLimit(max(limitBefore-mappedBytes, limitBefore/2))
	}
}
