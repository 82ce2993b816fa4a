// Package testimage builds real images for tests: layers from entry lists or
// directories, images with a chosen configuration, a debootstrap Debian root
// filesystem cached between runs, and a one-call scan of an image.
package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"sort"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
)

// Entry is one tar entry of a test layer.
type Entry struct {
	Path     string
	Body     []byte
	Mode     int64
	Type     byte
	Linkname string
	UID, GID int
}

// File is a regular file with mode 0644.
func File(path, body string) Entry {
	return Entry{Path: path, Body: []byte(body), Mode: 0o644, Type: tar.TypeReg}
}

// Exec is a regular file with mode 0755.
func Exec(path string, body []byte) Entry {
	return Entry{Path: path, Body: body, Mode: 0o755, Type: tar.TypeReg}
}

// Dir is a directory with mode 0755.
func Dir(path string) Entry { return Entry{Path: path, Mode: 0o755, Type: tar.TypeDir} }

// Symlink is a symbolic link to target.
func Symlink(path, target string) Entry {
	return Entry{Path: path, Mode: 0o777, Type: tar.TypeSymlink, Linkname: target}
}

// Hardlink is a hard link to target.
func Hardlink(path, target string) Entry {
	return Entry{Path: path, Mode: 0o644, Type: tar.TypeLink, Linkname: target}
}

// Whiteout deletes path in the layers below.
func Whiteout(path string) Entry {
	dir, base := splitPath(path)
	return Entry{Path: dir + ".wh." + base, Mode: 0o644, Type: tar.TypeReg}
}

// Opaque hides what lower layers hold in dir.
func Opaque(dir string) Entry {
	return Entry{Path: dir + "/.wh..wh..opq", Mode: 0o644, Type: tar.TypeReg}
}

func splitPath(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i+1], p[i+1:]
		}
	}
	return "", p
}

// Tar returns an uncompressed tar holding entries in order.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Path, Mode: e.Mode, Typeflag: typ, Linkname: e.Linkname, Uid: e.UID, Gid: e.GID,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.Path, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer returns a layer holding entries in order.
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	b := Tar(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// DirLayer returns a layer holding the directory tree at dir, generated
// anew each time it is read.
func DirLayer(t testing.TB, dir string) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(source.WriteTree(context.Background(), dir, pw)) }()
		return pr, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image returns an image with cfg and layers (lowest first); each layer gets
// a history entry "layer N".
func Image(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := empty.Image
	for i, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "layer " + itoa(i), Created: v1.Time{Time: time.Unix(1700000000, 0)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// Scan opens img as the engine would (layers read uncompressed, for speed)
// and runs analyzers and image analyzers over it without a cache. It fails
// the test on a scan error.
func Scan(t testing.TB, img v1.Image, analyzers []analyzer.Analyzer, imageAnalyzers ...analyzer.ImageAnalyzer) *scan.Result {
	t.Helper()
	res, err := ScanErr(t, img, analyzers, imageAnalyzers...)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return res
}

// ScanErr is Scan that returns the scan error (and the partial result) instead of failing.
func ScanErr(t testing.TB, img v1.Image, analyzers []analyzer.Analyzer, imageAnalyzers ...analyzer.ImageAnalyzer) (*scan.Result, error) {
	t.Helper()
	ra, err := Open(img)
	if err != nil {
		t.Fatal(err)
	}
	return scan.Run(context.Background(), ra, scan.Options{Analyzers: analyzers, ImageAnalyzers: imageAnalyzers})
}

// Open presents img as a source image whose layers are read uncompressed
// (no compression or manifest digest is computed).
func Open(img v1.Image) (source.RandomAccess, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	u := &uncompressed{layers: layers, meta: source.Meta{Input: "test-image:latest", Kind: "test", Name: "test-image:latest", Digest: cfgDigest.String(), Config: cf}}
	for _, d := range cf.RootFS.DiffIDs {
		u.meta.Layers = append(u.meta.Layers, source.LayerMeta{DiffID: d.String()})
	}
	return u, nil
}

type uncompressed struct {
	meta   source.Meta
	layers []v1.Layer
}

func (u *uncompressed) Meta() *source.Meta { return &u.meta }
func (u *uncompressed) Close() error       { return nil }

func (u *uncompressed) OpenLayer(_ context.Context, i int) (io.ReadCloser, error) {
	return u.layers[i].Uncompressed()
}

// StreamTar writes large tar entries without holding them in memory.
type StreamTar struct{ *tar.Writer }

// TarWriter returns a StreamTar writing to w.
func TarWriter(w io.Writer) StreamTar { return StreamTar{tar.NewWriter(w)} }

// Header starts a regular file of size bytes; write its content next.
func (s StreamTar) Header(name string, size int64) error {
	return s.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
}

// Packages scans an image made of layers (default configuration) with one
// analyzer and returns the packages and warnings it reports.
func Packages(t testing.TB, a analyzer.Analyzer, layers ...v1.Layer) ([]model.Package, []string) {
	t.Helper()
	res := Scan(t, Image(t, v1.Config{}, layers...), []analyzer.Analyzer{a})
	return res.Packages, res.Warnings
}

// IDs lists pkgs as "name@version", sorted: what an analyzer's test
// compares with the package manager's own listing.
func IDs(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name+"@"+p.Version)
	}
	sort.Strings(out)
	return out
}

// Needs checks what a asks for each path of want: a regular file of 100
// bytes there.
func Needs(t testing.TB, a analyzer.Analyzer, want map[string]analyzer.Need) {
	t.Helper()
	for p, w := range want {
		e := analyzer.Entry{Path: p, Mode: 0o644, Size: 100}
		if got := a.Need(&e); got != w {
			t.Errorf("Need(%q) = %v, want %v", p, got, w)
		}
	}
}
