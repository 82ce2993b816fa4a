package dotnet

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/testimage"
)

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The fixtures follow the published formats of the .NET host's deps.json
// and NuGet's packages.lock.json (no .NET SDK can be installed here to make
// them). The application references Newtonsoft.Json 13.0.1 and Serilog
// 2.12.0, which bring System.Text.Encodings.Web 4.7.2 through the project
// WebApp.Core.
func TestDepsAndLock(t *testing.T) {
	const deps, lock = "app/WebApp.deps.json", "src/WebApp/packages.lock.json"
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t,
		testimage.File(deps, read(t, "testdata/WebApp.deps.json")),
		testimage.File(lock, read(t, "testdata/packages.lock.json")),
	))
	var got []string
	for _, p := range pkgs {
		locs := append([]string{p.Path}, p.Locations...)
		sort.Strings(locs)
		got = append(got, p.PURL+" "+strings.Join(locs, ","))
	}
	want := []string{
		"pkg:nuget/Newtonsoft.Json@13.0.1 app/WebApp.deps.json,src/WebApp/packages.lock.json",
		"pkg:nuget/Serilog@2.12.0 app/WebApp.deps.json,src/WebApp/packages.lock.json",
		"pkg:nuget/System.Text.Encodings.Web@4.7.2 app/WebApp.deps.json,src/WebApp/packages.lock.json",
	}
	if len(warns) > 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s\nwarnings %v", strings.Join(got, "\n"), strings.Join(want, "\n"), warns)
	}
	// A later layer deleting the application leaves only the lockfile.
	pkgs, _ = testimage.Packages(t, New(), testimage.Layer(t,
		testimage.File(deps, read(t, "testdata/WebApp.deps.json")),
		testimage.File(lock, read(t, "testdata/packages.lock.json")),
	), testimage.Layer(t, testimage.Whiteout("app")))
	for _, p := range pkgs {
		if p.Path != lock || len(p.Locations) > 0 {
			t.Errorf("after deleting app: %+v", p)
		}
	}
}

func TestBadInput(t *testing.T) {
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t,
		testimage.File("a/x.deps.json", `{"libraries": {"A/1.0": {"type": "package"`),
		testimage.File("b/y.deps.json", `{"libraries": {"Ok.Pkg/1.0.0": {"type": "package"}, "NoVersion": {"type": "package"}, "Bad Name/1.0": {"type": "package"}}}`),
		testimage.File("c/packages.lock.json", `{"version": 1, "dependencies": {"net8.0": []}}`),
		testimage.File("d/packages.lock.json", strings.Repeat(" ", MaxFileBytes+1)),
	))
	if len(pkgs) != 1 || pkgs[0].PURL != "pkg:nuget/Ok.Pkg@1.0.0" {
		t.Errorf("got %+v", pkgs)
	}
	if len(warns) != 4 {
		t.Fatalf("want 4 warnings, got %q", warns)
	}
	for _, w := range warns {
		if !strings.HasPrefix(w, "layer sha256:") || !strings.Contains(w, ".json") {
			t.Errorf("warning without layer or path: %q", w)
		}
	}
}

func FuzzDepsJSON(f *testing.F) {
	f.Add([]byte(`{"libraries":{"WebApp/1.0.0":{"type":"project"},"Newtonsoft.Json/13.0.1":{"type":"package","sha512":"sha512-x"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseDepsJSON(b)
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Fatalf("invalid package accepted: %+v", p)
			}
		}
	})
}

func FuzzPackagesLock(f *testing.F) {
	f.Add([]byte(`{"version":1,"dependencies":{"net8.0":{"Serilog":{"type":"Direct","requested":"[2.12.0, )","resolved":"2.12.0"},"web":{"type":"Project"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePackagesLock(b)
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Fatalf("invalid package accepted: %+v", p)
			}
		}
	})
}
