package python

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/testimage"
)

func read(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLockfileAndInstalled: a lockfile entry and the installed copy of the
// same distribution, spelled differently, are one package; development
// dependencies and editable paths are left out of lockfiles.
func TestLockfileAndInstalled(t *testing.T) {
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t,
			testimage.File("app/.venv/lib/python3.11/site-packages/zope.interface-5.5.2.dist-info/METADATA",
				"Metadata-Version: 2.1\nName: zope.interface\nVersion: 5.5.2\nLicense: ZPL 2.1\n\nInterfaces for Python\nName: not-a-header\n"),
			testimage.File("app/poetry.lock", read(t, "testdata/poetry.lock")),
			testimage.File("app/Pipfile.lock", read(t, "testdata/Pipfile.lock")),
		),
	)
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	want := "Flask@2.2.3 charset-normalizer@3.0.1 requests@2.28.1 zope.interface@5.5.2"
	if got := strings.Join(testimage.IDs(res.Packages), " "); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, p := range res.Packages {
		if p.Name == "zope.interface" {
			if p.PURL != "pkg:pypi/zope-interface@5.5.2" || len(p.Locations) != 1 || p.Locations[0] != "app/poetry.lock" || !strings.HasSuffix(p.Path, ".dist-info/METADATA") || strings.Join(p.Licenses, "") != "ZPL 2.1" {
				t.Errorf("%+v", p)
			}
		}
	}
}

func TestNeed(t *testing.T) {
	testimage.Needs(t, New(), map[string]analyzer.Need{
		"usr/lib/python3/dist-packages/idna-3.3.egg-info/PKG-INFO":           analyzer.Content,
		"usr/local/lib/python3.11/site-packages/pip-23.0.dist-info/METADATA": analyzer.Content,
		"usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info":            analyzer.Content,
		"opt/x/lib/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO":                     analyzer.Content,
		"app/poetry.lock":            analyzer.Content,
		"app/Pipfile.lock":           analyzer.Content,
		"usr/lib/python3/METADATA":   analyzer.Skip,
		"usr/lib/x.dist-info/RECORD": analyzer.Skip,
		"usr/lib/python3/.egg-info":  analyzer.Skip,
		"usr/share/doc/x/PKG-INFO":   analyzer.Skip,
	})
}

func TestBadInput(t *testing.T) {
	long := "Metadata-Version: 2.1\nName: big\nVersion: 1.0\n\n" + strings.Repeat("description ", 100000)
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t,
		testimage.File("a/x-1.dist-info/METADATA", "Name: \nVersion: 1\n"),
		testimage.File("b/y-1.dist-info/METADATA", "\x00\xff garbage"),
		testimage.File("c/poetry.lock", "[[package]\nname = "),
		testimage.File("d/Pipfile.lock", `{"default": {"a": {"version": "==1"}`),
	))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if len(res.Packages) != 0 || len(res.Warnings) != 4 {
		t.Fatalf("packages %v warnings %v", testimage.IDs(res.Packages), res.Warnings)
	}
	// Metadata larger than the read limit keeps its headers; a lockfile
	// does not.
	tr := testimage.Tar(t, testimage.File("s/big-1.0.dist-info/METADATA", long), testimage.File("s/Pipfile.lock", read(t, "testdata/Pipfile.lock")))
	w, err := layer.Walk(context.Background(), bytes.NewReader(tr), []analyzer.Analyzer{New()}, layer.Limits{MaxFileBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(testimage.IDs(w.Result.Packages), " "); got != "big@1.0" || len(w.Result.Warnings) != 1 || !strings.HasPrefix(w.Result.Warnings[0], "s/Pipfile.lock: ") {
		t.Fatalf("packages %s warnings %v", got, w.Result.Warnings)
	}
}

func FuzzMetadata(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseMetadata(b)
		if (p == nil) == (err == nil) || (p != nil && (!validName(p.Name) || !validVersion(p.Version))) {
			t.Fatalf("%+v %v", p, err)
		}
	})
}

func FuzzPoetryLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePoetryLock(b)
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Fatalf("%+v", p)
			}
		}
	})
}

func FuzzPipfileLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePipfileLock(b)
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Fatalf("%+v", p)
			}
		}
	})
}
