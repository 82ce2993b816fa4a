package match_test

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/match"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// The records these tests match: the bundled sample (real GHSA, GO and
// Debian advisory records) and the real OSV records of testdata/real, for
// packages of a Debian 12 minbase root filesystem (glibc, zlib, ncurses)
// and of the application layer (golang.org/x/text).
var recordDirs = []string{filepath.Join("..", "vulndb", "testdata", "osv"), filepath.Join("testdata", "real")}

func realDB(t *testing.T) *vulndb.DB {
	t.Helper()
	return match.ImportDB(t, recordDirs...)
}

// scanImage scans img with the real package analyzers (dpkg, os-release,
// the language analyzers) and matches the inventory against the records.
func scanImage(t *testing.T, img v1.Image) (*scan.Result, []model.Finding) {
	t.Helper()
	cfg := all.Config{Scanners: map[string]bool{all.ScannerPackage: true}}
	las, err := all.Layer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ias, err := all.Image(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := testimage.Scan(t, img, las, ias...)
	if res.OS == nil || res.OS.Family != "debian" || res.OS.Version != "12" {
		t.Fatalf("os %+v", res.OS)
	}
	fs, err := match.Match(context.Background(), realDB(t), res.OS, res.Packages)
	if err != nil {
		t.Fatal(err)
	}
	return res, fs
}

// want is one expected finding: package name, installed version, id and
// fixed version ("" when none is known).
type want struct{ pkg, installed, id, fixed string }

func (w want) String() string {
	return fmt.Sprintf("%s %s: %s fixed %q", w.pkg, w.installed, w.id, w.fixed)
}

func got(fs []model.Finding, keep func(model.Finding) bool) []string {
	var out []string
	for _, f := range fs {
		if keep(f) {
			out = append(out, want{f.Package.Name, f.InstalledVersion, f.ID, f.FixedVersion}.String())
		}
	}
	sort.Strings(out)
	return out
}

func strs(ws []want) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	sort.Strings(out)
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// dpkgEntry is one installed package of a dpkg status file.
type dpkgEntry struct{ name, version, source, sourceVersion string }

// installed reads root's dpkg status file: the artifact's own record of
// what is installed, independent of customs' dpkg analyzer.
func installed(t *testing.T, root string) []dpkgEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dpkgEntry
	var e dpkgEntry
	var ok bool
	flush := func() {
		if ok && e.name != "" {
			if e.source == "" {
				e.source = e.name
			}
			if e.sourceVersion == "" {
				e.sourceVersion = e.version
			}
			out = append(out, e)
		}
		e, ok = dpkgEntry{}, false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "":
			if line == "" {
				flush()
			}
		case "Package":
			e.name = v
		case "Version":
			e.version = v
		case "Status":
			ok = v == "install ok installed"
		case "Source":
			name, ver, hasVer := strings.Cut(v, " ")
			e.source = name
			if hasVer {
				e.sourceVersion = strings.Trim(ver, "()")
			}
		}
	}
	flush()
	return out
}

// dpkgLess asks the real dpkg whether version a is lower than b.
func dpkgLess(t *testing.T, a, b string) bool {
	t.Helper()
	err := exec.Command(testimage.RequireTool(t, "dpkg"), "--compare-versions", a, "lt", b).Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatal(err)
	}
	return err == nil
}

var cve = regexp.MustCompile(`^(?:[A-Z]+-)?(CVE-\d{4}-\d+)$`)

// debianWants derives the findings on the installed packages from the
// Debian:12 entries of the records, comparing versions with dpkg itself.
// Every Debian:12 range of these records is "introduced 0" with at most
// one fix; a finding is named by the one CVE its record stands for.
func debianWants(t *testing.T, pkgs []dpkgEntry) []want {
	t.Helper()
	var recs []*vulndb.Record
	for _, d := range recordDirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.json"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := vulndb.Parse(p, data)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rs...)
		}
	}
	seen := map[string]bool{}
	var out []want
	for _, p := range pkgs {
		for _, r := range recs {
			for _, a := range r.Affected {
				if a.Package.Ecosystem != "Debian:12" || a.Package.Name != p.source {
					continue
				}
				fixed, affected := "", true
				for _, rg := range a.Ranges {
					for _, e := range rg.Events {
						switch {
						case e.Introduced == "0":
						case e.Fixed != "":
							fixed = e.Fixed
							affected = dpkgLess(t, p.sourceVersion, e.Fixed)
						default:
							t.Fatalf("%s: a range this test does not evaluate: %+v", r.ID, rg)
						}
					}
				}
				if !affected {
					continue
				}
				id := r.ID
				for _, u := range append(r.Upstream, r.Aliases...) {
					if m := cve.FindStringSubmatch(u); m != nil {
						id = m[1]
					}
				}
				w := want{p.name, p.version, id, fixed}
				if !seen[w.String()] {
					seen[w.String()] = true
					out = append(out, w)
				}
			}
		}
	}
	return out
}

func isDebian(f model.Finding) bool { return f.Extra["ecosystem"] == "Debian" }

// A Debian 12 minbase root filesystem as debootstrap installs it, scanned
// with the real analyzers: the findings are exactly those the records give
// for the installed source versions, compared by dpkg.
func TestDebianImageFindings(t *testing.T) {
	root := testimage.Debootstrap(t)
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root))
	res, fs := scanImage(t, img)
	pkgs := installed(t, root)
	wants := debianWants(t, pkgs)
	t.Logf("%d installed packages; expected findings:\n  %s", len(pkgs), strings.Join(strs(wants), "\n  "))
	equal(t, "Debian findings", got(fs, isDebian), strs(wants))
	if len(fs) != len(wants) {
		t.Errorf("%d findings, %d expected: findings outside Debian's records", len(fs), len(wants))
	}
	checkDebianDetails(t, res, fs, pkgs)
}

// checkDebianDetails checks what the expected set leaves implicit: the
// unfixed glibc record names libc6 by its source, Debian's urgency rates
// it, the ncurses record's CVSS v4 vector is kept, and fixes below the
// installed versions (DSA-5514-1, DEBIAN-CVE-2022-37434 with an epoch)
// and records of other releases (DSA-5218-1) produce nothing.
func checkDebianDetails(t *testing.T, res *scan.Result, fs []model.Finding, pkgs []dpkgEntry) {
	t.Helper()
	diff := map[string]string{}
	for _, p := range res.Packages {
		diff[p.Name] = p.LayerDiffID
	}
	var sawGlibc, sawNcurses bool
	for _, f := range fs {
		if f.Path != "var/lib/dpkg/status" || f.LayerDiffID == "" || f.LayerDiffID != diff[f.Package.Name] {
			t.Errorf("%s on %s: path %q layer %q", f.ID, f.Package.Name, f.Path, f.LayerDiffID)
		}
		switch f.ID {
		case "CVE-2010-4756":
			sawGlibc = true
			if f.Package.Name != "libc6" && f.Package.Name != "libc-bin" {
				t.Errorf("glibc record on %s", f.Package.Name)
			}
			if f.Severity != model.Low || f.Extra["severity_source"] != "debian" || f.FixedVersion != "" ||
				strings.Join(f.Aliases, ",") != "DEBIAN-CVE-2010-4756" || f.Extra["matched_package"] != "glibc" {
				t.Errorf("glibc finding %+v", f)
			}
		case "CVE-2025-6141":
			sawNcurses = true
			if !strings.HasPrefix(f.Extra["cvss_vector"], "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:N/VI:N/VA:L/") || f.Extra["severity_source"] != "cvss_v4" {
				t.Errorf("ncurses finding %+v", f)
			}
		case "CVE-2023-4911", "CVE-2022-37434":
			t.Errorf("a fixed or other-release record matched: %+v", f)
		}
	}
	has := map[string]bool{}
	for _, p := range pkgs {
		has[p.source] = true
	}
	if !has["glibc"] || !has["ncurses"] || !has["zlib"] || !sawGlibc || !sawNcurses {
		t.Errorf("sources %v; glibc finding %v, ncurses finding %v", has, sawGlibc, sawNcurses)
	}
}

// buildGoApp builds a small program that uses golang.org/x/text v0.3.7
// (fetched through the Go module proxy when it is not in the module cache).
func buildGoApp(t *testing.T) string {
	t.Helper()
	goTool := testimage.RequireTool(t, "go")
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/langapp\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.7\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.ParseAcceptLanguage(\"en\")) }\n",
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-trimpath", "-o", "app", "."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	return filepath.Join(dir, "app")
}

// An application image: Debian 12 with Debian's python3-requests and
// liblog4j2-java, plus a layer holding the real package.json of lodash
// 4.17.11 (as the npm registry serves it) and a Go executable built with
// golang.org/x/text v0.3.7. Each language finding comes from a real
// record; versions are read from the artifacts' own metadata.
func TestApplicationImageFindings(t *testing.T) {
	root := testimage.Debootstrap(t, "liblog4j2-java", "python3-requests")
	app := buildGoApp(t)
	bin, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	lodash, err := os.ReadFile(filepath.Join("testdata", "lodash-4.17.11-package.json"))
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root), testimage.Layer(t,
		testimage.File("srv/app/node_modules/lodash/package.json", string(lodash)),
		testimage.Exec("srv/app/server", bin)))
	res, fs := scanImage(t, img)

	// The Debian part is as in the minbase image.
	pkgs := installed(t, root)
	equal(t, "Debian findings", got(fs, isDebian), strs(debianWants(t, pkgs)))

	info, err := buildinfo.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	textVersion := ""
	for _, d := range info.Deps {
		if d.Path == "golang.org/x/text" {
			textVersion = d.Version
		}
	}
	requests := pythonVersion(t, root, "requests")
	wants := []want{
		// GO-2022-1059: golang.org/x/text < 0.3.8 (SEMVER).
		{"golang.org/x/text", textVersion, "CVE-2022-32149", "0.3.8"},
		// GHSA-j8r2-6x86-q33q: requests >= 2.3.0, < 2.31.0 (PEP 440).
		{"requests", requests, "CVE-2023-32681", "2.31.0"},
		// GHSA-jf85-cpcp-j695: lodash < 4.17.12.
		{"lodash", "4.17.11", "CVE-2019-10744", "4.17.12"},
	}
	// Not expected: GO-2023-2102 (stdlib below 1.21.3; the executable's
	// toolchain is newer) and GHSA-jfh8-c2jp-5v3q (log4j-core below
	// 2.15.0; Debian ships 2.19.0).
	if !strings.HasPrefix(info.GoVersion, "go1.2") || len(info.GoVersion) < len("go1.22") {
		t.Fatalf("toolchain %s", info.GoVersion)
	}
	t.Logf("expected language findings:\n  %s", strings.Join(strs(wants), "\n  "))
	equal(t, "language findings", got(fs, func(f model.Finding) bool { return !isDebian(f) }), strs(wants))

	appLayer := res.Layers[1].DiffID
	for _, f := range fs {
		if isDebian(f) {
			continue
		}
		wantPath := map[string]string{"golang.org/x/text": "srv/app/server", "lodash": "srv/app/node_modules/lodash/package.json"}[f.Package.Name]
		switch {
		case f.Package.Name == "requests":
			if !strings.HasPrefix(f.Path, "usr/lib/python3/dist-packages/requests-"+requests) || f.LayerDiffID != res.Layers[0].DiffID {
				t.Errorf("requests finding at %s in %s", f.Path, f.LayerDiffID)
			}
		case f.Path != wantPath || f.LayerDiffID != appLayer:
			t.Errorf("%s finding at %s in %s", f.Package.Name, f.Path, f.LayerDiffID)
		}
	}
	var sawLog4j bool
	for _, p := range res.Packages {
		if p.Type == model.TypeMaven && strings.HasSuffix(p.Name, ":log4j-core") {
			sawLog4j = true
		}
	}
	if !sawLog4j {
		t.Error("log4j-core not in the inventory: the Maven true negative tests nothing")
	}
}

// pythonVersion reads the Version of an installed distribution's metadata
// below root's dist-packages.
func pythonVersion(t *testing.T, root, name string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "usr/lib/python3/dist-packages", name+"-*", "PKG-INFO"))
	more, _ := filepath.Glob(filepath.Join(root, "usr/lib/python3/dist-packages", name+"-*", "METADATA"))
	for _, p := range append(files, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Version: "); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	t.Fatalf("no metadata of %s", name)
	return ""
}
