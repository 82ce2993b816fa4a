package dpkg_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer/dpkg"
	"github.com/customs-scanner/customs/internal/testimage"
)

// TestDistroless lays the real Debian 12 packages out as Google's
// distroless images do: no status file, one control file per package in
// status.d (without a Status field, as dpkg-deb --field prints it), next to
// its .md5sums.
func TestDistroless(t *testing.T) {
	root := testimage.Debootstrap(t)
	statusPath := filepath.Join(root, dpkg.StatusFile)
	status, err := os.ReadFile(statusPath)
	if err != nil {
		t.Fatal(err)
	}
	names, byName := paragraphs(t, status)
	noStatus := regexp.MustCompile(`(?m)^Status: .*\n`)
	var files []testimage.Entry
	for i, n := range names {
		p := noStatus.ReplaceAll(byName[n], nil)
		if i == len(names)-1 {
			continue // written with the one before, below
		}
		if i == len(names)-2 {
			// Some images hold several paragraphs in one file.
			p = append(append(p, '\n'), noStatus.ReplaceAll(byName[names[i+1]], nil)...)
		}
		files = append(files, testimage.File(dpkg.StatusDir+"/"+n, string(p)))
		if sums, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info", n+".md5sums")); err == nil {
			files = append(files, testimage.File(dpkg.StatusDir+"/"+n+".md5sums", string(sums)))
		}
	}
	osRel, err := os.ReadFile(filepath.Join(root, "usr/lib/os-release"))
	if err != nil {
		t.Fatal(err)
	}
	debVersion, err := os.ReadFile(filepath.Join(root, "etc/debian_version"))
	if err != nil {
		t.Fatal(err)
	}
	want := dpkgQuery(t, statusPath)
	wantOS := osRelease(t, root)

	t.Run("with os-release", func(t *testing.T) {
		layer := testimage.Layer(t, append(files,
			testimage.File("etc/os-release", string(osRel)),
			testimage.File("etc/debian_version", string(debVersion)))...)
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, layer), analyzers())
		compareRows(t, debs(t, res.Packages), want)
		checkOS(t, res, wantOS)
	})

	t.Run("packages only", func(t *testing.T) {
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, files...)), analyzers())
		compareRows(t, debs(t, res.Packages), want)
		if res.OS == nil || res.OS.Family != "debian" || res.OS.Version != wantOS.Version {
			t.Errorf("OS %+v, want debian %s", res.OS, wantOS.Version)
		}
	})

	t.Run("package file deleted in a later layer", func(t *testing.T) {
		img := testimage.Image(t, v1.Config{}, testimage.Layer(t, files...),
			testimage.Layer(t, testimage.Whiteout(dpkg.StatusDir+"/hostname")))
		res := testimage.Scan(t, img, analyzers())
		var rest []row
		for _, r := range want {
			if r.name != "hostname" {
				rest = append(rest, r)
			}
		}
		compareRows(t, debs(t, res.Packages), rest)
		for _, p := range res.Packages {
			if p.Path != dpkg.StatusDir+"/"+p.Name && p.Name != names[len(names)-1] {
				t.Errorf("%s read from %s", p.Name, p.Path)
			}
		}
	})
}
