package apk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/apk"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// awkList lists name, version, arch, origin and license of every package
// of an installed database with awk, independently of the parser.
func awkList(t *testing.T, db string) []string {
	t.Helper()
	testimage.RequireTool(t, "awk")
	out, err := exec.Command("awk", `
		/^P:/ { p = substr($0, 3) } /^V:/ { v = substr($0, 3) } /^A:/ { a = substr($0, 3) }
		/^o:/ { o = substr($0, 3) } /^L:/ { l = substr($0, 3) }
		/^$/ { if (p != "") print p "\t" v "\t" a "\t" o "\t" l; p = v = a = o = l = "" }
		END { if (p != "") print p "\t" v "\t" a "\t" o "\t" l }`, db).Output()
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(rows)
	return rows
}

func rows(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		if p.Type != model.TypeAPK || p.SourceVersion != p.Version || len(p.Licenses) != 1 {
			out = append(out, "malformed "+p.Name)
			continue
		}
		out = append(out, strings.Join([]string{p.Name, p.Version, p.Arch, p.SourceName, p.Licenses[0]}, "\t"))
	}
	sort.Strings(out)
	return out
}

func TestInstalledDatabase(t *testing.T) {
	real, err := os.ReadFile("testdata/installed")
	if err != nil {
		t.Fatal(err)
	}
	want := awkList(t, "testdata/installed")
	if len(want) != 20 {
		t.Fatalf("awk found %d packages in the fixture", len(want))
	}
	// A later layer upgrades busybox and removes zlib.
	upgraded := strings.Replace(string(real), "P:busybox\nV:1.33.1-r3\n", "P:busybox\nV:1.33.1-r6\n", 1)
	upgraded = regexp.MustCompile(`(?s)C:[^\n]*\nP:zlib\n.*?\n\n`).ReplaceAllString(upgraded, "")
	upgradedPath := filepath.Join(t.TempDir(), "installed")
	if err := os.WriteFile(upgradedPath, []byte(upgraded), 0o644); err != nil {
		t.Fatal(err)
	}
	wantUpgraded := awkList(t, upgradedPath)
	if len(wantUpgraded) != 19 {
		t.Fatalf("the upgraded database has %d packages", len(wantUpgraded))
	}

	base := testimage.Layer(t, testimage.File(apk.Database, string(real)))
	img := testimage.Image(t, v1.Config{}, base)
	res := testimage.Scan(t, img, []analyzer.Analyzer{apk.New()})
	if got := rows(res.Packages); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range res.Packages {
		if p.Path != apk.Database || !strings.HasPrefix(p.PURL, "pkg:apk/alpine/") {
			t.Errorf("%s: path %s purl %s", p.Name, p.Path, p.PURL)
		}
	}

	img = testimage.Image(t, v1.Config{}, base, testimage.Layer(t, testimage.File(apk.Database, upgraded)))
	res = testimage.Scan(t, img, []analyzer.Analyzer{apk.New()})
	if got := rows(res.Packages); strings.Join(got, "\n") != strings.Join(wantUpgraded, "\n") {
		t.Errorf("after the upgrade got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantUpgraded, "\n"))
	}
	for _, p := range res.Packages {
		layer := 0
		if p.Name == "busybox" {
			layer = 1
		}
		if p.LayerDiffID != res.Layers[layer].DiffID {
			t.Errorf("%s %s introduced by %s, want layer %d", p.Name, p.Version, p.LayerDiffID, layer)
		}
	}
}

// TestOwnedFiles reads the files of a package as apk records them:
// directory, file, ACL and SHA-1 checksum lines.
func TestOwnedFiles(t *testing.T) {
	db := "P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\nF:bin\nR:busybox\na:0:0:4755\nZ:Q11ln/nn7Pm+/sc4JfQvgF8PSrvaA=\nF:etc\nR:securetty\nZ:Q1notbase64!\n\n"
	entries, err := apk.Parse([]byte(db))
	if err != nil || len(entries) != 1 {
		t.Fatalf("%v %+v", err, entries)
	}
	want := []analyzer.OwnedFile{
		{Path: "bin/busybox", Digest: "sha1:d659ff9e7ecf9befec73825f42f805f0f4abbda0", Mode: 0o4755},
		{Path: "etc/securetty"},
	}
	if !slices.Equal(entries[0].Files, want) {
		t.Errorf("files %+v\nwant %+v", entries[0].Files, want)
	}
}
