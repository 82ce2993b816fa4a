package dpkg_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/dpkg"
	"github.com/customs-scanner/customs/internal/analyzer/osrelease"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// row is one package as dpkg-query prints it.
type row struct{ name, version, arch, srcName, srcVersion string }

// filesStates are the dpkg states whose files are on disk.
var filesStates = map[string]bool{"installed": true, "unpacked": true, "half-configured": true,
	"half-installed": true, "triggers-awaited": true, "triggers-pending": true}

// dpkgQuery lists the packages of the status file at statusPath with
// dpkg-query itself.
func dpkgQuery(t *testing.T, statusPath string) []row {
	t.Helper()
	testimage.RequireTool(t, "dpkg-query")
	adm := t.TempDir()
	b, err := os.ReadFile(statusPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(adm, "status"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-query", "--admindir="+adm, "-W",
		"-f", `${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n`).Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var rows []row
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 6 {
			t.Fatalf("dpkg-query line %q", l)
		}
		if filesStates[f[5]] {
			rows = append(rows, row{f[0], f[1], f[2], f[3], f[4]})
		}
	}
	return sortRows(rows)
}

func sortRows(rows []row) []row {
	sort.Slice(rows, func(i, j int) bool { return rows[i].name+"\x00"+rows[i].arch < rows[j].name+"\x00"+rows[j].arch })
	return rows
}

func debs(t *testing.T, pkgs []model.Package) []row {
	t.Helper()
	var rows []row
	for _, p := range pkgs {
		if p.Type == model.TypeDeb {
			rows = append(rows, row{p.Name, p.Version, p.Arch, p.SourceName, p.SourceVersion})
		}
	}
	return sortRows(rows)
}

func compareRows(t *testing.T, got, want []row) {
	t.Helper()
	if len(want) < 10 {
		t.Fatalf("only %d expected packages: the test image is not what it should be", len(want))
	}
	g := map[row]bool{}
	for _, r := range got {
		g[r] = true
	}
	w := map[row]bool{}
	for _, r := range want {
		w[r] = true
		if !g[r] {
			t.Errorf("missing or different: %+v", r)
		}
	}
	for _, r := range got {
		if !w[r] {
			t.Errorf("unexpected: %+v", r)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d packages, want %d", len(got), len(want))
	}
}

// osRelease reads the os-release of root with a shell, as scripts do.
func osRelease(t *testing.T, root string) model.OS {
	t.Helper()
	out, err := exec.Command("sh", "-c", `. "$1" && printf '%s\n%s\n%s\n%s' "$ID" "$VERSION_ID" "$VERSION_CODENAME" "$PRETTY_NAME"`,
		"sh", filepath.Join(root, "usr/lib/os-release")).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(string(out), "\n")
	return model.OS{Family: f[0], Version: f[1], Codename: f[2], Name: f[3]}
}

func analyzers() []analyzer.Analyzer {
	return []analyzer.Analyzer{dpkg.New(), osrelease.New()}
}

// paragraphs splits a real status file into its paragraphs, keyed by
// package name, in file order.
func paragraphs(t *testing.T, status []byte) (names []string, byName map[string][]byte) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^Package: (\S+)$`)
	byName = map[string][]byte{}
	for _, p := range bytes.Split(bytes.TrimSpace(status), []byte("\n\n")) {
		m := re.FindSubmatch(p)
		if m == nil {
			t.Fatalf("paragraph without Package: %q", p)
		}
		names = append(names, string(m[1]))
		byName[string(m[1])] = append(p, '\n')
	}
	return names, byName
}

func setField(p []byte, field, value string) []byte {
	re := regexp.MustCompile(`(?m)^` + field + `: .*$`)
	if !re.Match(p) {
		panic("no field " + field)
	}
	return re.ReplaceAll(p, []byte(field+": "+value))
}

// TestDebian scans a real debootstrap Debian 12 root filesystem as the
// first layer of an image whose second layer rewrites the status file as
// an upgrade, a purge and a removal would, and compares with dpkg-query.
func TestDebian(t *testing.T) {
	root := testimage.Debootstrap(t)
	statusPath := filepath.Join(root, dpkg.StatusFile)
	status, err := os.ReadFile(statusPath)
	if err != nil {
		t.Fatal(err)
	}
	names, byName := paragraphs(t, status)
	for _, n := range []string{"hostname", "adduser", "apt"} {
		if byName[n] == nil {
			t.Fatalf("package %s is not in the debootstrap image", n)
		}
	}
	// Layer 1: hostname upgraded, adduser purged, apt removed (config files left).
	var rewritten bytes.Buffer
	for _, n := range names {
		p := byName[n]
		switch n {
		case "hostname":
			p = setField(p, "Version", "3.23+nmu2")
		case "adduser":
			continue
		case "apt":
			p = setField(p, "Status", "deinstall ok config-files")
		}
		rewritten.Write(p)
		rewritten.WriteString("\n")
	}
	upgradedPath := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(upgradedPath, rewritten.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	base := testimage.DirLayer(t, root)
	upgrade := testimage.Layer(t, testimage.File(dpkg.StatusFile, rewritten.String()))

	t.Run("one layer", func(t *testing.T) {
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, base), analyzers())
		compareRows(t, debs(t, res.Packages), dpkgQuery(t, statusPath))
		checkOS(t, res, osRelease(t, root))
		for _, p := range res.Packages {
			if p.Path != dpkg.StatusFile || p.LayerDiffID != res.Layers[0].DiffID {
				t.Errorf("%s: path %q layer %q", p.Name, p.Path, p.LayerDiffID)
			}
		}
	})

	t.Run("upgrade in a later layer", func(t *testing.T) {
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, base, upgrade), analyzers())
		want := dpkgQuery(t, upgradedPath)
		compareRows(t, debs(t, res.Packages), want)
		checkOS(t, res, osRelease(t, root))
		for _, p := range res.Packages {
			layer := 0
			if p.Name == "hostname" {
				layer = 1
			}
			if p.LayerDiffID != res.Layers[layer].DiffID {
				t.Errorf("%s %s: introduced by %s, want layer %d (%s)", p.Name, p.Version, p.LayerDiffID, layer, res.Layers[layer].DiffID)
			}
		}
	})

	t.Run("status file deleted", func(t *testing.T) {
		res := testimage.Scan(t, testimage.Image(t, v1.Config{}, base, testimage.Layer(t, testimage.Whiteout(dpkg.StatusFile))), analyzers())
		if got := debs(t, res.Packages); len(got) != 0 {
			t.Errorf("%d packages from a deleted status file", len(got))
		}
	})
}

func checkOS(t *testing.T, res *scan.Result, want model.OS) {
	t.Helper()
	if want.Family != "debian" || want.Version == "" {
		t.Fatalf("os-release of the test image says %+v", want)
	}
	if res.OS == nil || *res.OS != want {
		t.Fatalf("OS %+v, want %+v", res.OS, want)
	}
	for _, p := range res.Packages {
		if p.Type != model.TypeDeb {
			continue
		}
		prefix := "pkg:deb/debian/" + strings.ReplaceAll(p.Name, "+", "%2B") + "@"
		suffix := "?arch=" + p.Arch + "&distro=debian-" + want.Version
		if !strings.HasPrefix(p.PURL, prefix) || !strings.HasSuffix(p.PURL, suffix) {
			t.Errorf("purl %s, want %s...%s", p.PURL, prefix, suffix)
		}
	}
}
