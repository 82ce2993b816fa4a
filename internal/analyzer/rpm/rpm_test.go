package rpm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/rpm"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// queryFormat makes rpm print a package as the rows below compare it.
const queryFormat = `%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\n`

// rpmQuery lists a database with rpm itself.
func rpmQuery(t *testing.T, dbpath string, args ...string) []string {
	t.Helper()
	testimage.RequireTool(t, "rpm")
	out, err := exec.Command("rpm", append(args, "-qa", "--dbpath", dbpath, "--qf", queryFormat)...).Output()
	if err != nil && len(out) == 0 {
		// A copied Berkeley DB database lacks rpm's index files: rpm warns
		// and fails, but still lists the packages.
		t.Fatalf("rpm -qa: %v", err)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "gpg-pubkey\t") {
			rows = append(rows, l)
		}
	}
	sort.Strings(rows)
	return rows
}

// rows prints packages as rpmQuery does; the source RPM is rebuilt from
// the source name and version, without the epoch a file name never has.
func rows(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		if p.Type != model.TypeRPM {
			continue
		}
		srcVersion := p.SourceVersion
		if _, v, ok := strings.Cut(srcVersion, ":"); ok {
			srcVersion = v
		}
		out = append(out, strings.Join([]string{p.Name, p.Version, p.Arch, p.SourceName + "-" + srcVersion + ".src.rpm", strings.Join(p.Licenses, " ")}, "\t"))
	}
	sort.Strings(out)
	return out
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: nothing expected", what)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: got\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// buildRPM builds a package with no files from a spec written here.
func buildRPM(t *testing.T, top, name, epoch, version, release, license string) string {
	t.Helper()
	testimage.RequireTool(t, "rpmbuild")
	spec := filepath.Join(top, name+"-"+version+".spec")
	body := "Name: " + name + "\nVersion: " + version + "\nRelease: " + release + "\nSummary: test\nLicense: " + license +
		"\nBuildArch: noarch\n"
	if epoch != "" {
		body += "Epoch: " + epoch + "\n"
	}
	body += "%description\ntest package\n%files\n"
	if err := os.WriteFile(spec, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmbuild", "--define", "_topdir "+top, "-bb", spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	return filepath.Join(top, "RPMS", "noarch", name+"-"+version+"-"+release+".noarch.rpm")
}

func rpmInstall(t *testing.T, dbpath string, args ...string) {
	t.Helper()
	cmd := exec.Command("rpm", append([]string{"--dbpath", dbpath, "--justdb", "--nodeps"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpm %v: %v\n%s", args, err, out)
	}
}

// TestSQLite builds packages with rpmbuild, installs them into a SQLite
// database with rpm, upgrades one in a later layer, and compares with
// rpm -qa.
func TestSQLite(t *testing.T) {
	testimage.RequireTool(t, "rpm")
	top := t.TempDir()
	hello1 := buildRPM(t, top, "customs-hello", "2", "1.2.3", "4.el9", "MIT AND Apache-2.0")
	hello2 := buildRPM(t, top, "customs-hello", "2", "1.2.4", "1.el9", "MIT AND Apache-2.0")
	world := buildRPM(t, top, "customs-world", "", "0.9", "1.fc39", "GPL-2.0-or-later")
	db := t.TempDir()
	if out, err := exec.Command("rpm", "--initdb", "--dbpath", db).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	rpmInstall(t, db, "-i", hello1, world)
	want1 := rpmQuery(t, db)
	db1, err := os.ReadFile(filepath.Join(db, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	rpmInstall(t, db, "-U", hello2)
	want2 := rpmQuery(t, db)
	db2, err := os.ReadFile(filepath.Join(db, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"var/lib/rpm", "usr/lib/sysimage/rpm"} {
		p := dir + "/rpmdb.sqlite"
		base := testimage.Layer(t, testimage.File(p, string(db1)))
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, base), []analyzer.Analyzer{rpm.New()})
		same(t, p, rows(res.Packages), want1)

		res = testimage.Scan(t, testimage.Image(t, v1.Config{}, base, testimage.Layer(t, testimage.File(p, string(db2)))), []analyzer.Analyzer{rpm.New()})
		same(t, p+" upgraded", rows(res.Packages), want2)
		for _, pkg := range res.Packages {
			layer := 0
			if pkg.Name == "customs-hello" {
				layer = 1
				if pkg.PURL != "pkg:rpm/customs-hello@1.2.4-1.el9?arch=noarch&epoch=2" {
					t.Errorf("purl %s", pkg.PURL)
				}
			}
			if pkg.LayerDiffID != res.Layers[layer].DiffID || pkg.Path != p {
				t.Errorf("%s from %s in %s, want layer %d", pkg.Name, pkg.Path, pkg.LayerDiffID, layer)
			}
		}
	}
}

// TestBerkeleyDB reads a real Berkeley DB database and compares with rpm's
// read-only bdb backend.
func TestBerkeleyDB(t *testing.T) {
	b, err := os.ReadFile("testdata/bdb/Packages")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // rpm may leave lock files where the database is
	if err := os.WriteFile(filepath.Join(dir, "Packages"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	want := rpmQuery(t, dir, "--define", "_db_backend bdb_ro")
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("var/lib/rpm/Packages", string(b)))), []analyzer.Analyzer{rpm.New()})
	same(t, "bdb", rows(res.Packages), want)
}

// TestNDB reads SUSE's NDB database; Debian's rpm cannot, so the expected
// packages are those listed with the fixture (see testdata/README.md).
func TestNDB(t *testing.T) {
	b, err := os.ReadFile("testdata/ndb/Packages.db")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := rpm.Read(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, p := range pkgs {
		found[p.Name] = p.Version + "-" + p.Release + " " + p.Arch + " " + p.SourceRPM
	}
	for name, want := range map[string]string{
		"bash":         "4.4-19.6.1 x86_64 bash-4.4-19.6.1.src.rpm",
		"glibc":        "2.31-9.3.2 x86_64 glibc-2.31-9.3.2.src.rpm",
		"libstdc++6":   "11.2.1+git610-1.3.9 x86_64 gcc11-11.2.1+git610-1.3.9.src.rpm",
		"sles-release": "15.3-55.4.1 x86_64 sles-release-15.3-55.4.1.src.rpm",
	} {
		if found[name] != want {
			t.Errorf("%s: %q, want %q", name, found[name], want)
		}
	}
}

func TestSplitSourceRPM(t *testing.T) {
	n, v, r, ok := rpm.SplitSourceRPM("gcc11-11.2.1+git610-1.3.9.src.rpm")
	if !ok || n != "gcc11" || v != "11.2.1+git610" || r != "1.3.9" {
		t.Errorf("%s %s %s %v", n, v, r, ok)
	}
	if _, _, _, ok := rpm.SplitSourceRPM("(none)"); ok {
		t.Error("(none) parsed")
	}
}
