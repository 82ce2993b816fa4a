package ownership_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// rpmQuery runs Debian's rpm on a copy of a real image's database and
// returns its output lines.
func rpmQuery(t *testing.T, db testimage.RPMDatabase, qf string) []string {
	t.Helper()
	dir := t.TempDir()
	body, err := os.ReadFile(db.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, path.Base(db.Path)), body, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testimage.RequireTool(t, "rpm"), "--dbpath", dir, "--define", "_db_backend "+db.Backend, "-qa", "--qf", qf).Output()
	if err != nil {
		t.Fatalf("rpm -qa on %s: %v", db.Image, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestRealRPMDatabases puts the package database of real CentOS 7 and
// Rocky Linux 9 images into an image. The packages are those rpm itself
// lists; nothing is reported as setuid or secret; a setuid program the
// database lists, rewritten with other content, and a setuid program no
// package installed are HIGH; Python metadata at a path an RPM package
// installed is os_owned by that package, and a distribution the image
// author installed is not.
func TestRealRPMDatabases(t *testing.T) {
	for _, db := range testimage.RPMDatabases(t) {
		t.Run(db.Image, func(t *testing.T) {
			body, err := os.ReadFile(db.File)
			if err != nil {
				t.Fatal(err)
			}
			base := testimage.Layer(t, testimage.File("etc/os-release", db.OSRelease), testimage.File(db.Path, string(body)))
			image := func(layers ...v1.Layer) v1.Image {
				return testimage.Image(t, v1.Config{Cmd: []string{"bash"}}, layers...)
			}
			res := scanImage(t, image(base))

			var want []string
			for _, l := range rpmQuery(t, db, "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\n") {
				if strings.HasPrefix(l, "gpg-pubkey ") { // keys, not software
					continue
				}
				want = append(want, strings.Replace(l, " 0:", " ", 1))
			}
			sort.Strings(want)
			var got []string
			for _, p := range res.Packages {
				got = append(got, p.Name+" "+p.Version+" "+p.Arch)
			}
			sort.Strings(got)
			if len(want) < 100 || !slices.Equal(got, want) {
				t.Fatalf("%d packages, rpm lists %d:\n got  %v\n want %v", len(got), len(want), got, want)
			}
			if s := setidFindings(res); len(s) != 0 {
				t.Errorf("stock: setuid findings %v", s)
			}
			if s := byClass(res, model.ClassSecret); len(s) != 0 {
				t.Errorf("stock: secret findings %v", s)
			}

			// The database's own setuid programs and Python metadata.
			var setuid, meta, metaOwner string
			for _, l := range rpmQuery(t, db, "[%{FILEMODES:perms} %{FILENAMES} %{=NAME}\n]") {
				f := strings.Fields(l)
				switch {
				case len(f) != 3:
				case setuid == "" && f[0][3] == 's' && strings.HasPrefix(f[1], "/usr/bin/"):
					setuid = strings.TrimPrefix(f[1], "/")
				case meta == "" && f[0][0] == '-' && strings.HasSuffix(f[1], ".egg-info/PKG-INFO") && strings.Contains(f[1], "/site-packages/"):
					meta, metaOwner = strings.TrimPrefix(f[1], "/"), f[2]
				}
			}
			if setuid == "" || meta == "" {
				t.Fatalf("the database lists no setuid program (%q) or egg-info (%q)", setuid, meta)
			}
			dist := strings.SplitN(path.Base(path.Dir(meta)), "-", 3)
			pkgInfo := "Metadata-Version: 1.1\nName: " + dist[0] + "\nVersion: " + dist[1] + "\n"
			elsewhere := "usr/local/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA"
			res = scanImage(t, image(base, testimage.Layer(t,
				setuidExec(setuid, "\x7fELF rebuilt "+setuid),
				setuidExec("usr/local/bin/helper", "\x7fELF helper"),
				testimage.File(meta, pkgInfo), testimage.File(elsewhere, "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"))))
			if s, w := setidFindings(res), []string{setuid + ":HIGH", "usr/local/bin/helper:HIGH"}; !slices.Equal(s, w) {
				t.Errorf("planted: setuid findings %v, want %v", s, w)
			}
			owned := map[string]string{}
			for _, p := range res.Packages {
				if p.Type == model.TypePyPI {
					owned[p.Path] = p.OSPackage
					if p.OSOwned != (p.OSPackage != "") {
						t.Errorf("%s: os_owned %v, os_package %q", p.Path, p.OSOwned, p.OSPackage)
					}
				}
			}
			if owned[meta] != metaOwner || owned[elsewhere] != "" || len(owned) != 2 {
				t.Errorf("python packages by path and owner %v; want %s owned by %s, %s by none", owned, meta, metaOwner, elsewhere)
			}
		})
	}
}
