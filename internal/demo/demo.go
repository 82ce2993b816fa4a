// Package demo builds the sample image that `customs demo` scans: a small
// Debian 12 image with an application layer and a cleanup layer, made from
// files embedded in the binary, so the whole pipeline runs with no network
// and no daemon. See sample/README.md for what it holds and why.
package demo

import (
	"archive/tar"
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

//go:embed all:sample
var sample embed.FS

var created = time.Date(2023, 9, 1, 12, 0, 0, 0, time.UTC)

// Build writes the sample image as an OCI image layout into dir.
func Build(dir string) error {
	img, err := Image()
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing OCI layout: %w", err)
	}
	return p.AppendImage(img)
}

// Image returns the sample image.
func Image() (v1.Image, error) {
	base, err := treeLayer("sample/base")
	if err != nil {
		return nil, err
	}
	app, err := treeLayer("sample/app")
	if err != nil {
		return nil, err
	}
	cleanup, err := tarLayer([]entry{{name: "usr/src/app/.wh..env"}})
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, History: hist("/bin/sh -c #(nop) ADD file:debian-bookworm-rootfs.tar in / ")},
		mutate.Addendum{Layer: app, History: hist("/bin/sh -c #(nop) COPY dir:app in /usr/src/app ")},
		mutate.Addendum{Layer: cleanup, History: hist("/bin/sh -c rm /usr/src/app/.env")},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", "amd64", v1.Time{Time: created}
	cf.Config = v1.Config{
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NODE_ENV=production"},
		Cmd:          []string{"node", "server.js"},
		WorkingDir:   "/usr/src/app",
		ExposedPorts: map[string]struct{}{"22/tcp": {}, "3000/tcp": {}},
	}
	cf.History = append(cf.History,
		v1.History{Created: v1.Time{Time: created}, CreatedBy: "/bin/sh -c #(nop)  EXPOSE 22 3000", EmptyLayer: true},
		v1.History{Created: v1.Time{Time: created}, CreatedBy: `/bin/sh -c #(nop)  CMD ["node" "server.js"]`, EmptyLayer: true})
	return mutate.ConfigFile(img, cf)
}

func hist(createdBy string) v1.History {
	return v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy}
}

type entry struct {
	name string
	body []byte
	dir  bool
}

// treeLayer turns an embedded directory into a layer.
func treeLayer(root string) (v1.Layer, error) {
	var entries []entry
	err := fs.WalkDir(sample, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		name := strings.TrimPrefix(p, root+"/")
		if d.IsDir() {
			entries = append(entries, entry{name: name + "/", dir: true})
			return nil
		}
		b, err := sample.ReadFile(p)
		entries = append(entries, entry{name: name, body: b})
		return err
	})
	if err != nil {
		return nil, err
	}
	return tarLayer(entries)
}

func tarLayer(entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: created}
		if e.dir {
			hdr.Mode, hdr.Typeflag = 0o755, tar.TypeDir
		}
		if strings.HasSuffix(e.name, "etc/shadow") {
			hdr.Mode = 0o640
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}
