package testimage

import (
	"archive/tar"
	"io"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Real images and package databases, as their publishers ship them in
// repositories that the Go module proxy serves (see GoModule).
const (
	// alpineModule is Alpine's official image repository; this commit
	// holds the minirootfs of Alpine edge built on 2026-08-05, the one
	// layer of alpine:edge of that day.
	alpineModule  = "github.com/alpinelinux/docker-alpine"
	alpineVersion = "v0.0.0-20260806101352-410e6fcf56b6"
	alpineTarball = "x86_64/alpine-minirootfs-20260805-x86_64.tar.gz"

	// scalibrModule is OSV-SCALIBR, whose test data holds `docker save`
	// archives of real Alpine images and RPM databases of real CentOS and
	// Rocky Linux images.
	scalibrModule  = "github.com/google/osv-scalibr"
	scalibrVersion = "v0.5.3"

	// rpmdbModule is go-rpmdb, whose test data holds the RPM databases of
	// CentOS images.
	rpmdbModule  = "github.com/knqyf263/go-rpmdb"
	rpmdbVersion = "v0.0.0-20210911072402-73bd0ce46c49"
)

// AlpineMinirootfs returns the layer of Alpine's official edge image of
// 2026-08-05 (x86_64), gzip-compressed as Alpine publishes it.
func AlpineMinirootfs(t testing.TB) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromFile(filepath.Join(GoModule(t, alpineModule, alpineVersion), filepath.FromSlash(alpineTarball)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// AlpineWithPackages returns a `docker save` archive of a real image: Alpine
// 3.20 (July 2024) with bash, git and curl's libraries added by apk in later
// layers, and its apk index cache left behind.
func AlpineWithPackages(t testing.TB) string {
	t.Helper()
	return filepath.Join(GoModule(t, scalibrModule, scalibrVersion), "artifact", "image", "layerscanning", "image", "testdata", "alpine-with-packages.tar")
}

// RPMDatabase is the RPM package database of a real image.
type RPMDatabase struct {
	// Image names the image the database was taken from.
	Image string
	// OSRelease is that image's /etc/os-release.
	OSRelease string
	// File is the database file on this machine.
	File string
	// Path is where the database lives in the image.
	Path string
	// Backend is rpm's _db_backend that reads it (bdb_ro or sqlite).
	Backend string
}

// RPMDatabases returns the RPM databases of real CentOS 7 and Rocky Linux 9
// images (Berkeley DB and SQLite).
func RPMDatabases(t testing.TB) []RPMDatabase {
	t.Helper()
	scalibr := filepath.Join(GoModule(t, scalibrModule, scalibrVersion), "extractor", "filesystem", "os", "rpm", "testdata")
	rpmdb := filepath.Join(GoModule(t, rpmdbModule, rpmdbVersion), "pkg", "testdata")
	centos7 := "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n"
	return []RPMDatabase{
		{Image: "centos:7.9.2009", OSRelease: centos7, File: filepath.Join(scalibr, "Packages"), Path: "var/lib/rpm/Packages", Backend: "bdb_ro"},
		{Image: "centos:7.5.1804", OSRelease: centos7, File: filepath.Join(rpmdb, "centos7-plain", "Packages"), Path: "var/lib/rpm/Packages", Backend: "bdb_ro"},
		{Image: "rockylinux:9.2", OSRelease: "NAME=\"Rocky Linux\"\nVERSION=\"9.2 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.2\"\n",
			File: filepath.Join(scalibr, "rpmdb.sqlite"), Path: "var/lib/rpm/rpmdb.sqlite", Backend: "sqlite"},
	}
}

// LayerFiles returns the regular files of layer whose paths (without a
// leading "./" or "/") satisfy want, with their headers and contents.
func LayerFiles(t testing.TB, layer v1.Layer, want func(path string) bool) map[string]LayerFile {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]LayerFile{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "./"), "/")
		if hdr.Typeflag != tar.TypeReg || !want(p) {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = LayerFile{Header: hdr, Body: body}
	}
}

// LayerFile is one regular file of a layer.
type LayerFile struct {
	Header *tar.Header
	Body   []byte
}
