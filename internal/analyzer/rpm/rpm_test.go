package rpm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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

// infoRows prints packages as rpmQuery does, one row for each record.
func infoRows(pkgs []rpm.Info) []string {
	var out []string
	for _, p := range pkgs {
		version := p.Version + "-" + p.Release
		if p.Epoch > 0 {
			version = fmt.Sprint(p.Epoch) + ":" + version
		}
		out = append(out, strings.Join([]string{p.Name, version, p.Arch, p.SourceRPM, p.License}, "\t"))
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

// exportHeaders lists the package headers of a database as rpmdb
// --exportdb writes them: each header blob follows rpm's 8-byte header
// magic.
func exportHeaders(t *testing.T, dbpath string) [][]byte {
	t.Helper()
	out, err := exec.Command("rpmdb", "--exportdb", "--dbpath", dbpath).Output()
	if err != nil {
		t.Fatalf("rpmdb --exportdb: %v", err)
	}
	magic := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
	var blobs [][]byte
	for len(out) > 0 {
		if len(out) < 16 || !bytes.HasPrefix(out, magic) {
			t.Fatalf("rpmdb --exportdb: no header magic at %x", out[:min(len(out), 8)])
		}
		n := 8 + 16*int(binary.BigEndian.Uint32(out[8:])) + int(binary.BigEndian.Uint32(out[12:]))
		if len(out) < 8+n {
			t.Fatal("rpmdb --exportdb: header cut short")
		}
		blobs = append(blobs, out[8:8+n])
		out = out[8+n:]
	}
	return blobs
}

// loadPackages writes a Berkeley DB hash database in dir/Packages with
// Berkeley DB's own db_load, laid out as rpm's: record 0 holds the next
// package number, records 1 to n the headers (the given ones in turn),
// keys in the database's byte order (lorder 1234 or 4321).
func loadPackages(t *testing.T, dir string, headers [][]byte, n, pageSize int, lorder string) []byte {
	t.Helper()
	testimage.RequireTool(t, "db5.3_load")
	var order binary.AppendByteOrder = binary.LittleEndian
	if lorder == "4321" {
		order = binary.BigEndian
	}
	var dump strings.Builder
	fmt.Fprintf(&dump, "VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=%d\nHEADER=END\n", pageSize)
	record := func(key uint32, value []byte) {
		fmt.Fprintf(&dump, " %s\n %s\n", hex.EncodeToString(order.AppendUint32(nil, key)), hex.EncodeToString(value))
	}
	record(0, order.AppendUint32(nil, uint32(n+1)))
	for i := 1; i <= n; i++ {
		record(uint32(i), headers[i%len(headers)])
	}
	dump.WriteString("DATA=END\n")
	p := filepath.Join(dir, "Packages")
	cmd := exec.Command("db5.3_load", "-c", "db_lorder="+lorder, p)
	cmd.Stdin = strings.NewReader(dump.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("db_load: %v\n%s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBerkeleyDBLoaded reads Berkeley DB databases that Berkeley DB itself
// wrote, in both byte orders and with small and large pages, holding
// headers of packages that rpmbuild built and rpm installed, and compares
// each record with rpm's read-only bdb backend reading the same files.
// With 512-byte pages every header spans several overflow pages and the
// records fill many hash buckets.
func TestBerkeleyDBLoaded(t *testing.T) {
	testimage.RequireTool(t, "rpm")
	top := t.TempDir()
	rpms := []string{
		buildRPM(t, top, "customs-bdb-one", "", "1.0", "1.el7", "MIT"),
		buildRPM(t, top, "customs-bdb-two", "3", "2.5.1", "7.el8", "GPL-2.0-only"),
		buildRPM(t, top, "customs-bdb-three", "", "0.1", "0.rc1.el8", "BSD-3-Clause"),
	}
	db := t.TempDir()
	if out, err := exec.Command("rpm", "--initdb", "--dbpath", db).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	rpmInstall(t, db, append([]string{"-i"}, rpms...)...)
	headers := exportHeaders(t, db)
	if len(headers) != len(rpms) {
		t.Fatalf("%d headers exported, want %d", len(headers), len(rpms))
	}
	const records = 300
	for _, c := range []struct {
		pageSize int
		lorder   string
	}{{512, "1234"}, {512, "4321"}, {4096, "4321"}, {65536, "1234"}} {
		name := fmt.Sprintf("%d-byte pages, lorder %s", c.pageSize, c.lorder)
		dir := t.TempDir()
		b := loadPackages(t, dir, headers, records, c.pageSize, c.lorder)
		want := rpmQuery(t, dir, "--define", "_db_backend bdb_ro")
		if len(want) != records {
			t.Fatalf("%s: rpm lists %d packages, want %d", name, len(want), records)
		}
		pkgs, err := rpm.Read(context.Background(), b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		same(t, name, infoRows(pkgs), want)
	}
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

// TestOwnedFiles builds a package that installs a setuid program and a
// configuration file, records it in a SQLite database with rpm, and reads
// its files back: paths, SHA-256 digests and modes as rpm -qlv and
// --dump print them.
func TestOwnedFiles(t *testing.T) {
	testimage.RequireTool(t, "rpmbuild")
	top := t.TempDir()
	spec := filepath.Join(top, "owned.spec")
	body := "Name: customs-owned\nVersion: 1\nRelease: 1\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n" +
		"%install\nmkdir -p %{buildroot}/usr/bin %{buildroot}/etc\nprintf 'helper\\n' > %{buildroot}/usr/bin/helper\nprintf 'key=value\\n' > %{buildroot}/etc/owned.conf\n" +
		"%files\n%attr(4755,root,root) /usr/bin/helper\n%config /etc/owned.conf\n"
	if err := os.WriteFile(spec, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmbuild", "--define", "_topdir "+top, "-bb", spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	db := t.TempDir()
	if out, err := exec.Command("rpm", "--initdb", "--dbpath", db).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	rpmInstall(t, db, "-i", filepath.Join(top, "RPMS", "noarch", "customs-owned-1-1.noarch.rpm"))
	// --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink
	out, err := exec.Command("rpm", "-q", "--dbpath", db, "--dump", "customs-owned").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]analyzer.OwnedFile{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		var mode uint32
		fmt.Sscanf(f[4], "%o", &mode)
		p := strings.TrimPrefix(f[0], "/")
		want[p] = analyzer.OwnedFile{Path: p, Digest: "sha256:" + f[3], Mode: mode & 0o7777}
	}
	sqlite, err := os.ReadFile(filepath.Join(db, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	var r analyzer.Result
	f := &analyzer.File{Entry: analyzer.Entry{Path: "var/lib/rpm/rpmdb.sqlite", Mode: 0o644, Size: int64(len(sqlite))}, Content: sqlite}
	if err := rpm.New().Analyze(context.Background(), f, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Owned) != 1 || r.Owned[0].Package != "customs-owned" || len(r.Owned[0].Files) != len(want) || len(want) != 2 {
		t.Fatalf("owned %+v, rpm says %v", r.Owned, want)
	}
	for _, o := range r.Owned[0].Files {
		if o != want[o.Path] {
			t.Errorf("file %+v, rpm says %+v", o, want[o.Path])
		}
	}
	if h := r.Owned[0].Files; h[1].Path != "usr/bin/helper" || h[1].Mode != 0o4755 {
		t.Errorf("helper %+v", h[1])
	}
}
