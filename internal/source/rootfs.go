package source

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// rootFS presents a root filesystem directory as a one-layer image whose
// layer is a tar stream generated on the fly. Symbolic links are recorded
// as links, never followed, so nothing outside the directory is read.
type rootFS struct {
	meta Meta
	dir  string
}

func openRootFS(_ context.Context, dir string, _ *Options) (Image, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &rootFS{dir: abs, meta: Meta{Input: dir, Kind: KindRootFS, Layers: []LayerMeta{{}}}}, nil
}

func (r *rootFS) Meta() *Meta  { return &r.meta }
func (r *rootFS) Close() error { return nil }

// OpenLayer streams the directory as an uncompressed tar.
func (r *rootFS) OpenLayer(ctx context.Context, _ int) (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(WriteTree(ctx, r.dir, pw))
	}()
	return pr, nil
}

// WriteTree writes the directory tree at root to w as an uncompressed tar,
// recording symbolic links without following them.
func WriteTree(ctx context.Context, root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped, as a scanner of a live system must
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return nil
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // sockets and the like have no tar form
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if !fi.Mode().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		f, err := os.OpenFile(p, os.O_RDONLY|noFollow, 0)
		if err != nil {
			return nil
		}
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		// The file may shrink or grow while we read: write exactly hdr.Size bytes.
		n, err := io.Copy(tw, io.LimitReader(f, hdr.Size))
		if err == nil && n < hdr.Size {
			_, err = io.CopyN(tw, zeroReader{}, hdr.Size-n)
		}
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
