package source

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// rootFS presents a root filesystem directory as a one-layer image whose
// layer is a tar stream generated on the fly. Symbolic links are recorded
// as links, never followed, so nothing outside the directory is read.
// Entries that cannot be read become warnings (and mark the scan
// incomplete); the pseudo-filesystems of a live system (/proc, /sys, /dev)
// are not entered.
type rootFS struct {
	meta Meta
	dir  string

	mu    sync.Mutex
	notes treeNotes
	// hooks for tests, handed to the tree writer.
	readDir func(string) ([]fs.DirEntry, error)
	open    func(string) (*os.File, error)
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
		tw := &treeWriter{root: r.dir, live: true, readDir: r.readDir, open: r.open}
		err := tw.write(ctx, pw)
		r.mu.Lock()
		r.notes = tw.notes
		r.mu.Unlock()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// Warnings implements Warner: the entries the last read of the tree could
// not read, and the pseudo-filesystems it left out.
func (r *rootFS) Warnings() ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notes.list(), r.notes.unreadable > 0
}

// WriteTree writes the directory tree at root to w as an uncompressed tar,
// recording symbolic links without following them. Unreadable entries are
// left out.
func WriteTree(ctx context.Context, root string, w io.Writer) error {
	return (&treeWriter{root: root}).write(ctx, w)
}

// maxTreeWarnings bounds the warnings kept about one tree; the rest are
// counted.
const maxTreeWarnings = 50

// treeNotes gathers what a tree walk could not read or chose to skip.
type treeNotes struct {
	warnings   []string
	unreadable int // entries that could not be read
	skipped    []string
}

func (n *treeNotes) unreadableEntry(p string, err error) {
	n.unreadable++
	if len(n.warnings) < maxTreeWarnings {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once
		}
		n.warnings = append(n.warnings, fmt.Sprintf("%s: could not be read, left out of the scan: %v", p, err))
	}
}

func (n *treeNotes) list() []string {
	var out []string
	if len(n.skipped) > 0 {
		out = append(out, "root filesystem: "+strings.Join(n.skipped, ", ")+" not scanned (pseudo-filesystems of a live system)")
	}
	out = append(out, n.warnings...)
	if more := n.unreadable - len(n.warnings); more > 0 {
		out = append(out, fmt.Sprintf("root filesystem: %d more entries could not be read (the scan is incomplete)", more))
	}
	return out
}

// treeWriter writes a directory tree as a tar.
type treeWriter struct {
	root string
	// live says the tree may be a running system's root, whose proc, sys
	// and dev are not entered when they are pseudo-filesystems.
	live  bool
	notes treeNotes
	// hooks for tests: nil means the os functions.
	readDir func(string) ([]fs.DirEntry, error)
	open    func(string) (*os.File, error)
}

func (t *treeWriter) write(ctx context.Context, w io.Writer) error {
	tw := tar.NewWriter(w)
	skip := map[string]bool{}
	if t.live {
		for _, d := range pseudoDirs(t.root) {
			skip[d] = true
			t.notes.skipped = append(t.notes.skipped, "/"+d)
		}
	}
	if err := t.dir(ctx, tw, "", skip); err != nil {
		return err
	}
	return tw.Close()
}

// dir writes the entries of the directory rel (relative to the root,
// "" for the root itself), depth first, in name order.
func (t *treeWriter) dir(ctx context.Context, tw *tar.Writer, rel string, skip map[string]bool) error {
	readDir := t.readDir
	if readDir == nil {
		readDir = os.ReadDir
	}
	abs := filepath.Join(t.root, filepath.FromSlash(rel))
	entries, err := readDir(abs)
	if err != nil {
		t.notes.unreadableEntry(abs, err)
		// ReadDir returns what it read before the error.
	}
	for _, d := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		child := d.Name()
		if rel != "" {
			child = rel + "/" + d.Name()
		}
		if skip[child] {
			continue
		}
		isDir, err := t.entry(tw, child, d)
		if err != nil {
			return err
		}
		if isDir {
			if err := t.dir(ctx, tw, child, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry writes one entry and reports whether it is a directory to descend
// into. Only a failure to write the tar is returned; an entry that cannot
// be read is a warning.
func (t *treeWriter) entry(tw *tar.Writer, rel string, d fs.DirEntry) (bool, error) {
	p := filepath.Join(t.root, filepath.FromSlash(rel))
	fi, err := d.Info() // lstat: a symbolic link is not followed
	if err != nil {
		t.notes.unreadableEntry(p, err)
		return false, nil
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			t.notes.unreadableEntry(p, err)
			return false, nil
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return false, nil // sockets have no tar form: nothing to scan in them
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if !fi.Mode().IsRegular() {
		return fi.IsDir(), tw.WriteHeader(hdr)
	}
	open := t.open
	if open == nil {
		open = func(p string) (*os.File, error) { return os.OpenFile(p, os.O_RDONLY|noFollow, 0) }
	}
	f, err := open(p)
	if err != nil {
		t.notes.unreadableEntry(p, err)
		return false, nil
	}
	defer f.Close()
	if err := tw.WriteHeader(hdr); err != nil {
		return false, err
	}
	// The file may shrink or grow while we read: write exactly hdr.Size bytes.
	n, err := io.Copy(tw, io.LimitReader(readerOnly{f}, hdr.Size))
	var rerr *readError
	switch {
	case errors.As(err, &rerr):
		t.notes.unreadableEntry(p, rerr.err) // the rest of the file is zeros
	case err != nil:
		return false, err // the tar could not be written
	}
	if n < hdr.Size {
		if _, err := io.CopyN(tw, zeroReader{}, hdr.Size-n); err != nil {
			return false, err
		}
	}
	return false, nil
}

// readerOnly marks the file's read errors, so that they are told from the
// tar writer's errors after io.Copy.
type readerOnly struct{ f io.Reader }

func (r readerOnly) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// pseudoDirs lists the top-level directories of root (proc, sys, dev) that
// belong to a live system: root is the host's own root, or the directory
// is a mount point, or it is the host's own /proc, /sys or /dev.
func pseudoDirs(root string) []string {
	hostRoot := sameFile(root, "/")
	mounts := mountPoints()
	var out []string
	for _, d := range []string{"dev", "proc", "sys"} {
		p := filepath.Join(root, d)
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue
		}
		if hostRoot || mounts[filepath.Clean(p)] || sameFile(p, "/"+d) {
			out = append(out, d)
		}
	}
	return out
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// mountPoints lists the mount points of the running system (Linux:
// /proc/self/mountinfo); empty elsewhere. Tests replace it.
var mountPoints = func() map[string]bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseMountInfo(f)
}

// parseMountInfo reads the mount points (fifth field, octal escapes
// undone) of a mountinfo file.
func parseMountInfo(r io.Reader) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		out[filepath.Clean(unescapeMount(fields[4]))] = true
	}
	return out
}

// unescapeMount undoes the \ooo escapes of mountinfo (space, tab, newline,
// backslash).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
