package npm

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// The fixtures come from a real install: `npm install` of a workspace
// project (testdata/tree keeps its package.json files and lockfile), the
// same project locked by npm with --lockfile-version 1 and 2, by yarn 1.22
// and 4.5, and by pnpm 7, 8 and 9 (testdata/lockfiles), pnpm 9's
// node_modules/.pnpm store (testdata/pnpm-tree), and `npm ls --all --json`
// of the npm install (testdata/npm-ls.json), the ground truth.

// npmLs returns every name@version that `npm ls --all --json` lists.
func npmLs(t testing.TB) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("testdata/npm-ls.json")
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Version      string           `json:"version"`
		Dependencies map[string]*node `json:"dependencies"`
	}
	var root node
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	var walk func(map[string]*node)
	walk = func(deps map[string]*node) {
		for name, n := range deps {
			out[name+"@"+n.Version] = true
			walk(n.Dependencies)
		}
	}
	walk(root.Dependencies)
	if len(out) != 7 {
		t.Fatalf("npm ls lists %v", out)
	}
	return out
}

func without(set map[string]bool, drop ...string) []string {
	var out []string
	for k := range set {
		keep := true
		for _, d := range drop {
			if strings.HasPrefix(k, d+"@") {
				keep = false
			}
		}
		if keep {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestInstalledTreeAndLockfile(t *testing.T) {
	want := npmLs(t)
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, "testdata/tree"))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if got, w := testimage.IDs(res.Packages), without(want); strings.Join(got, " ") != strings.Join(w, " ") {
		t.Fatalf("packages\n got %v\nwant %v", got, w)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %v", res.Warnings)
	}
	for _, p := range res.Packages {
		locs := append([]string{p.Path}, p.Locations...)
		sort.Strings(locs)
		switch p.Name + "@" + p.Version {
		case "ms@2.0.0":
			if strings.Join(locs, " ") != "node_modules/debug/node_modules/ms/package.json package-lock.json packages/wsa/node_modules/ms/package.json" {
				t.Errorf("ms@2.0.0 found at %v", locs)
			}
		case "@types/ms@0.7.31":
			if p.PURL != "pkg:npm/%40types/ms@0.7.31" || strings.Join(p.Licenses, ",") != "MIT" {
				t.Errorf("%+v", p)
			}
		case "is-number@7.0.0": // a development dependency: installed, not from the lockfile
			if strings.Join(locs, " ") != "node_modules/is-number/package.json" {
				t.Errorf("is-number found at %v", locs)
			}
		case "wsa@0.1.0": // a workspace, named by its link in node_modules
			if strings.Join(locs, " ") != "package-lock.json" {
				t.Errorf("wsa found at %v", locs)
			}
		}
	}
}

func TestRemovedInLaterLayer(t *testing.T) {
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, "testdata/tree"),
		testimage.Layer(t, testimage.Whiteout("node_modules/is-number"), testimage.Whiteout("package-lock.json")))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if got, w := testimage.IDs(res.Packages), without(npmLs(t), "is-number", "wsa"); strings.Join(got, " ") != strings.Join(w, " ") {
		t.Fatalf("packages\n got %v\nwant %v", got, w)
	}
}

func TestPnpmStore(t *testing.T) {
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, "testdata/pnpm-tree"))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if got, w := testimage.IDs(res.Packages), without(npmLs(t), "wsa"); strings.Join(got, " ") != strings.Join(w, " ") {
		t.Fatalf("packages\n got %v\nwant %v", got, w)
	}
}

func TestLockfiles(t *testing.T) {
	all := npmLs(t)
	for _, c := range []struct {
		file  string
		parse func([]byte) ([]model.Package, error)
		// left out: development dependencies where the lockfile marks them,
		// workspaces where it does not give their version
		drop []string
	}{
		{"tree/package-lock.json", ParsePackageLock, []string{"is-number"}},
		{"lockfiles/package-lock.v2.json", ParsePackageLock, []string{"is-number"}},
		{"lockfiles/package-lock.v1.json", ParsePackageLock, []string{"is-number", "wsa"}},
		{"lockfiles/yarn.v1.lock", ParseYarnLock, []string{"wsa"}},
		{"lockfiles/yarn.berry.lock", ParseYarnLock, []string{"wsa"}},
		{"lockfiles/pnpm-lock.v5.yaml", ParsePnpmLock, []string{"is-number", "wsa"}},
		{"lockfiles/pnpm-lock.v6.yaml", ParsePnpmLock, []string{"is-number", "wsa"}},
		{"lockfiles/pnpm-lock.v9.yaml", ParsePnpmLock, []string{"wsa"}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := c.parse(b)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got, w := testimage.IDs(pkgs), without(all, c.drop...); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s\n got %v\nwant %v", c.file, got, w)
		}
	}
}

func TestNeed(t *testing.T) {
	testimage.Needs(t, New(), map[string]analyzer.Need{
		"app/node_modules/a/package.json":                            analyzer.Content,
		"app/node_modules/@s/a/package.json":                         analyzer.Content,
		"app/node_modules/a/node_modules/@s/b/package.json":          analyzer.Content,
		"node_modules/.pnpm/a@1.0.0/node_modules/a/package.json":     analyzer.Content,
		"node_modules/a/test/package.json":                           analyzer.Skip,
		"node_modules/a/test/fixtures/node_modules/x/y/package.json": analyzer.Skip,
		"node_modules/@s/package.json":                               analyzer.Skip,
		"node_modules/.bin/package.json":                             analyzer.Skip,
		"app/package.json":                                           analyzer.Skip,
		"app/package-lock.json":                                      analyzer.Content,
		"node_modules/a/package-lock.json":                           analyzer.Skip,
		"node_modules/.package-lock.json":                            analyzer.Skip,
		"yarn.lock":                                                  analyzer.Content,
		"srv/pnpm-lock.yaml":                                         analyzer.Content,
	})
}

func TestBadInput(t *testing.T) {
	huge := append([]byte(`{"name":"huge","version":"1.0.0","description":"`), bytes.Repeat([]byte("x"), MaxPackageJSON)...)
	huge = append(huge, `"}`...)
	lock, err := os.ReadFile("testdata/tree/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t,
		testimage.File("node_modules/bad/package.json", `{"name":"bad","version":`),
		testimage.File("node_modules/noversion/package.json", `{"name":"noversion"}`),
		testimage.File("node_modules/huge/package.json", string(huge)),
		testimage.File("a/package-lock.json", string(lock[:len(lock)/2])),
		testimage.File("b/yarn.lock", "\x00\x01 not a lockfile"),
		testimage.File("c/pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages: [\n"),
		testimage.File("d/pnpm-lock.yaml", "a: &a [*a, *a]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"),
	))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if len(res.Packages) != 0 {
		t.Errorf("packages %v", testimage.IDs(res.Packages))
	}
	var warned []string
	for _, w := range res.Warnings {
		warned = append(warned, strings.SplitN(w, ": ", 3)[1])
	}
	sort.Strings(warned)
	if want := "a/package-lock.json b/yarn.lock c/pnpm-lock.yaml d/pnpm-lock.yaml node_modules/bad/package.json node_modules/huge/package.json"; strings.Join(warned, " ") != want {
		t.Errorf("warned about %v, want %s\n%v", warned, want, res.Warnings)
	}
	// A lockfile larger than the engine's read limit arrives truncated.
	tr := testimage.Tar(t, testimage.File("app/package-lock.json", string(lock)))
	w, err := layer.Walk(context.Background(), bytes.NewReader(tr), []analyzer.Analyzer{New()}, layer.Limits{MaxFileBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Result.Packages) != 0 || len(w.Result.Warnings) != 1 {
		t.Errorf("truncated lockfile: packages %v warnings %v", testimage.IDs(w.Result.Packages), w.Result.Warnings)
	}
}

func fuzzParser(f *testing.F, parse func([]byte) ([]model.Package, error)) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := parse(b)
		if err != nil && len(pkgs) != 0 {
			t.Fatal("packages and an error")
		}
		for _, p := range pkgs {
			if !validName(p.Name) || !registryVersion(p.Version) || !strings.HasPrefix(p.PURL, "pkg:npm/") {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}

func FuzzPackageJSON(f *testing.F) {
	fuzzParser(f, func(b []byte) ([]model.Package, error) {
		p, err := ParsePackageJSON(b)
		if p == nil {
			return nil, err
		}
		return []model.Package{*p}, err
	})
}

func FuzzPackageLock(f *testing.F) { fuzzParser(f, ParsePackageLock) }
func FuzzYarnLock(f *testing.F)    { fuzzParser(f, ParseYarnLock) }
func FuzzPnpmLock(f *testing.F)    { fuzzParser(f, ParsePnpmLock) }
