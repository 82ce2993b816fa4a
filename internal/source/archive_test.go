package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testimage"
)

func TestDockerArchiveWithGzipLayers(t *testing.T) {
	img := sampleImage(t)
	p := writeDockerArchive(t, img, uniqueTag("customs-test/archive"))
	opened, err := source.Open(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	if _, ok := opened.(source.RandomAccess); !ok {
		t.Errorf("%T: a plain archive should be read in place", opened)
	}
	m := opened.Meta()
	if m.Kind != source.KindDockerArchive || m.Digest != configDigest(t, img) || m.Name == "" {
		t.Errorf("kind %q digest %s name %q", m.Kind, m.Digest, m.Name)
	}
	checkScan(t, opened, img)
}

func TestDockerArchiveGzipped(t *testing.T) {
	img := sampleImage(t)
	p := gzipFile(t, writeDockerArchive(t, img, uniqueTag("customs-test/archive")))
	opened, err := source.Open(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	if _, ok := opened.(source.Streaming); !ok {
		t.Errorf("%T: a gzip archive should be streamed", opened)
	}
	checkScan(t, opened, img)
}

func gzipFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	out := p + ".gz"
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// armImage is a one-layer image for linux/arm64.
func armImage(t *testing.T) v1.Image {
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("etc/arch", "arm64\n")))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// writeOCILayout writes a two-platform index (the sample image for
// linux/amd64, armImage for linux/arm64) as an OCI layout directory.
func writeOCILayout(t *testing.T, amd, arm v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tarDir archives dir; edit may drop an entry (nil) or change its bytes.
func tarDir(t *testing.T, dir string, edit func(name string, b []byte) []byte) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := f.Name()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if edit != nil {
			if b = edit(filepath.ToSlash(rel), b); b == nil {
				return nil
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOCIArchivePlatforms(t *testing.T) {
	amd, arm := sampleImage(t), armImage(t)
	p := tarDir(t, writeOCILayout(t, amd, arm), nil)
	for _, path := range []string{p, gzipFile(t, p)} {
		opened, err := source.Open(context.Background(), path, &source.Options{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}})
		if err != nil {
			t.Fatal(err)
		}
		if opened.Meta().Kind != source.KindOCIArchive {
			t.Errorf("%s: kind %q", path, opened.Meta().Kind)
		}
		if want, _ := amd.Digest(); opened.Meta().Digest != want.String() {
			t.Errorf("%s: digest %s, want the amd64 manifest %s", path, opened.Meta().Digest, want)
		}
		checkScan(t, opened, amd)
		opened.Close()

		opened, err = source.Open(context.Background(), path, &source.Options{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := arm.ConfigFile()
		if got := opened.Meta().Layers; len(got) != 1 || got[0].DiffID != cf.RootFS.DiffIDs[0].String() {
			t.Errorf("%s: arm64 layers %+v, want diff ID %s", path, got, cf.RootFS.DiffIDs[0])
		}
		opened.Close()

		_, err = source.Open(context.Background(), path, &source.Options{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
		if err == nil || !strings.Contains(err.Error(), "--platform") || !strings.Contains(err.Error(), "linux/arm64") {
			t.Errorf("%s: missing platform: %v", path, err)
		}
	}
}

// layerBlob is the path of the sample image's top layer in a layout.
func layerBlob(t *testing.T, img v1.Image, i int) string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return "blobs/sha256/" + m.Layers[i].Digest.Hex
}

func scanErr(t *testing.T, p string) (*scan.Result, error) {
	t.Helper()
	opened, err := source.Open(context.Background(), p, nil)
	if err != nil {
		return nil, err
	}
	defer opened.Close()
	return scan.Run(context.Background(), opened, scan.Options{Analyzers: []analyzer.Analyzer{keepFiles{}}})
}

func hasFinding(res *scan.Result, class model.Class) bool {
	if res == nil {
		return false
	}
	for _, f := range res.Findings {
		if f.Class == class {
			return true
		}
	}
	return false
}

func TestOCIArchiveTamperedLayer(t *testing.T) {
	amd := sampleImage(t)
	top, bottom := layerBlob(t, amd, 2), layerBlob(t, amd, 0)
	dir := writeOCILayout(t, amd, armImage(t))
	bottomBytes, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(bottom)))
	if err != nil {
		t.Fatal(err)
	}
	// A swapped blob (another valid layer under the top layer's digest), as a
	// man in the middle would serve: an integrity finding.
	swapped := tarDir(t, dir, func(name string, b []byte) []byte {
		if name == top {
			return bottomBytes
		}
		return b
	})
	// A flipped byte inside the compressed stream: the decompressor or the
	// tar reader fails before the digest can be checked, so the finding may
	// be an archive one; either way the scan must not come out clean.
	flipped := tarDir(t, dir, func(name string, b []byte) []byte {
		if name == top {
			b = bytes.Clone(b)
			b[len(b)/2] ^= 0xff
		}
		return b
	})
	for _, path := range []string{swapped, gzipFile(t, swapped)} {
		res, err := scanErr(t, path)
		if err == nil {
			t.Fatalf("%s: a tampered layer scanned cleanly", path)
		}
		if !hasFinding(res, model.ClassIntegrity) {
			t.Errorf("%s: no integrity finding (error %v)", path, err)
		}
	}
	for _, path := range []string{flipped, gzipFile(t, flipped)} {
		res, err := scanErr(t, path)
		if err == nil {
			t.Fatalf("%s: a tampered layer scanned cleanly", path)
		}
		if !hasFinding(res, model.ClassIntegrity) && !hasFinding(res, model.ClassArchive) {
			t.Errorf("%s: no finding (error %v)", path, err)
		}
	}
}

func TestOCIArchiveMissingBlob(t *testing.T) {
	amd := sampleImage(t)
	blob := layerBlob(t, amd, 1)
	p := tarDir(t, writeOCILayout(t, amd, armImage(t)), func(name string, b []byte) []byte {
		if name == blob {
			return nil
		}
		return b
	})
	res, err := scanErr(t, p)
	if err == nil || !strings.Contains(err.Error(), blob) {
		t.Fatalf("missing blob: %v", err)
	}
	if res == nil || len(res.Findings) == 0 {
		t.Errorf("missing blob: no finding in %+v", res)
	}
}

func TestDockerArchiveMissingLayer(t *testing.T) {
	img := sampleImage(t)
	p := writeDockerArchive(t, img, uniqueTag("customs-test/archive"))
	m, _ := img.Manifest()
	missing := m.Layers[0].Digest.Hex + ".tar.gz"
	dir := filepath.Join(t.TempDir(), "x")
	extract(t, p, dir)
	out := tarDir(t, dir, func(name string, b []byte) []byte {
		if name == missing {
			return nil
		}
		return b
	})
	_, err := source.Open(context.Background(), out, nil)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), out) {
		t.Fatalf("missing layer: %v", err)
	}
	_, err = source.Open(context.Background(), gzipFile(t, out), nil)
	if err != nil {
		t.Fatal(err) // the stream is only found incomplete while scanning
	}
	res, err := scanErr(t, out+".gz")
	if err == nil || !hasFinding(res, model.ClassIntegrity) {
		t.Errorf("gzip archive missing a layer: %v, findings %+v", err, res)
	}
}

// extract unpacks a test-built archive of regular files into dir.
func extract(t *testing.T, p, dir string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		dst := filepath.Join(dir, filepath.FromSlash(h.Name))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestArchiveTruncated(t *testing.T) {
	img := sampleImage(t)
	for _, gz := range []bool{false, true} {
		p := writeDockerArchive(t, img, uniqueTag("customs-test/archive"))
		if gz {
			p = gzipFile(t, p)
		}
		fi, _ := os.Stat(p)
		for _, keep := range []int64{fi.Size() / 3, fi.Size() / 2, fi.Size() - 700} {
			if err := os.Truncate(p, keep); err != nil {
				t.Fatal(err)
			}
			res, err := scanErr(t, p)
			if err == nil {
				t.Errorf("%s truncated to %d bytes: no error", p, keep)
				continue
			}
			if res == nil && !strings.Contains(err.Error(), p) {
				t.Errorf("%s truncated: the error does not name the archive: %v", p, err)
			}
		}
	}
}
