package source

import (
	"context"
	"io/fs"
	"os"
)

// OpenRootFSWithHooks opens dir as a root filesystem whose walk reads
// directories and opens files through the given functions (nil: the os
// ones), so tests can make entries fail as they do on a live system.
func OpenRootFSWithHooks(dir string, readDir func(string) ([]fs.DirEntry, error), open func(string) (*os.File, error)) (Image, error) {
	img, err := openRootFS(context.Background(), dir, &Options{})
	if err != nil {
		return nil, err
	}
	r := img.(*rootFS)
	r.readDir, r.open = readDir, open
	return r, nil
}

// SetMountPoints replaces the list of the system's mount points until the
// returned function is called.
func SetMountPoints(points ...string) (restore func()) {
	old := mountPoints
	mountPoints = func() map[string]bool {
		m := map[string]bool{}
		for _, p := range points {
			m[p] = true
		}
		return m
	}
	return func() { mountPoints = old }
}

var (
	PseudoDirs     = pseudoDirs
	ParseMountInfo = parseMountInfo
)
