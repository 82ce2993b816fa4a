// Command benchimage builds the benchmark images of scripts/bench-inventory.sh
// and scripts/bench-peers.sh from a cached debootstrap Debian root
// filesystem: the files are split into a number of layers of similar size,
// optionally followed by one layer per added directory (an npm tree, Go
// binaries) and a layer of large incompressible files (to make a ~1 GB
// image), and written both as an OCI layout (gzip layers) and as a
// docker-save archive (uncompressed layers).
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-scanner/customs/internal/testimage"
)

func main() {
	layers := flag.Int("layers", 12, "layers to split the root filesystem into")
	bulkMB := flag.Int("bulk-mb", 0, "add a layer of this many MB of incompressible files")
	var adds addFlags
	flag.Var(&adds, "add", "add a layer holding directory SRC at path DEST in the image (SRC=DEST; repeatable)")
	cache := flag.String("cache", filepath.Join(os.Getenv("HOME"), ".cache", "customs-test"), "debootstrap cache")
	out := flag.String("out", "", "output directory (writes oci/ and docker.tar)")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}
	root, err := testimage.DebootstrapDir(*cache)
	if err != nil {
		log.Fatal(err)
	}
	files, err := listFiles(root)
	if err != nil {
		log.Fatal(err)
	}
	img := empty.Image
	for i, chunk := range split(files, *layers) {
		img = appendLayer(img, fmt.Sprintf("rootfs part %d", i), func(tw *tar.Writer) error { return writeFiles(tw, root, chunk) })
	}
	for _, a := range adds {
		src, dest, _ := strings.Cut(a, "=")
		extra, err := listFiles(src)
		if err != nil {
			log.Fatal(err)
		}
		img = appendLayer(img, "add "+dest, func(tw *tar.Writer) error { return writeFilesAt(tw, src, strings.Trim(dest, "/"), extra) })
	}
	if *bulkMB > 0 {
		img = appendLayer(img, "bulk data", func(tw *tar.Writer) error { return writeBulk(tw, *bulkMB) })
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	p, err := layout.Write(filepath.Join(*out, "oci"), empty.Index)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		log.Fatal(err)
	}
	if err := writeDockerArchive(filepath.Join(*out, "docker.tar"), img); err != nil {
		log.Fatal(err)
	}
}

// writeDockerArchive writes img as docker save does: uncompressed layers,
// the config, and manifest.json last.
func writeDockerArchive(path string, img v1.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	var names []string
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			return err
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		n := d.Hex + "/layer.tar"
		names = append(names, n)
		if err := addFile(tw, n, b); err != nil {
			return err
		}
	}
	if err := addFile(tw, cfgName.Hex+".json", cfg); err != nil {
		return err
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName.Hex + ".json", "RepoTags": []string{"bench/debian:latest"}, "Layers": names}})
	if err := addFile(tw, "manifest.json", manifest); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

type file struct {
	rel  string
	size int64
}

func listFiles(root string) ([]file, error) {
	var files []file
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, file{rel: rel, size: fi.Size()})
		return nil
	})
	sort.Slice(files, func(a, b int) bool { return files[a].rel < files[b].rel })
	return files, err
}

func split(files []file, n int) [][]file {
	var total int64
	for _, f := range files {
		total += f.size
	}
	per := total/int64(n) + 1
	var out [][]file
	var cur []file
	var size int64
	for _, f := range files {
		cur = append(cur, f)
		size += f.size
		if size >= per && len(out) < n-1 {
			out = append(out, cur)
			cur, size = nil, 0
		}
	}
	return append(out, cur)
}

func appendLayer(img v1.Image, createdBy string, write func(*tar.Writer) error) v1.Image {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := write(tw); err != nil {
		log.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		log.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithCompressedCaching)
	if err != nil {
		log.Fatal(err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: createdBy}})
	if err != nil {
		log.Fatal(err)
	}
	return img
}

// addFlags collects repeated -add flags.
type addFlags []string

func (a *addFlags) String() string     { return strings.Join(*a, ",") }
func (a *addFlags) Set(v string) error { *a = append(*a, v); return nil }

func writeFiles(tw *tar.Writer, root string, files []file) error {
	return writeFilesAt(tw, root, "", files)
}

// writeFilesAt writes files below root into the layer under prefix.
func writeFilesAt(tw *tar.Writer, root, prefix string, files []file) error {
	for _, f := range files {
		p := filepath.Join(root, f.rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			continue
		}
		hdr.Name = path.Join(prefix, filepath.ToSlash(f.rel))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, err := tw.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeBulk(tw *tar.Writer, mb int) error {
	rng := rand.NewChaCha8([32]byte{1})
	for i := 0; i < mb/16; i++ {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("opt/bulk/blob-%03d.bin", i), Mode: 0o644, Size: 16 << 20, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, rng, 16<<20); err != nil {
			return err
		}
	}
	return nil
}
