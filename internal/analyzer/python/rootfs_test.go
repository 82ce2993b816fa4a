package python

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/testimage"
)

// importlibMetadata lists "Name@Version" of every distribution that
// Python's importlib.metadata finds in the site-packages and dist-packages
// directories below root.
func importlibMetadata(t testing.TB, root string) []string {
	t.Helper()
	py := testimage.RequireTool(t, "python3")
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && (d.Name() == "site-packages" || d.Name() == "dist-packages") {
			dirs = append(dirs, p)
		}
		return nil
	})
	script := "import importlib.metadata as m, sys\nfor d in m.distributions(path=sys.argv[1:]):\n    print(d.metadata['Name'] + '@' + d.version)"
	out, err := exec.Command(py, append([]string{"-c", script}, dirs...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		set[l] = true
	}
	var list []string
	for k := range set {
		list = append(list, k)
	}
	sort.Strings(list)
	return list
}

func TestDebianDistPackages(t *testing.T) {
	root := testimage.DebianJavaPython(t)
	want := importlibMetadata(t, root)
	if len(want) < 5 {
		t.Fatalf("importlib.metadata found only %v", want)
	}
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root)), []analyzer.Analyzer{New()})
	if got := testimage.IDs(res.Packages); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("packages\n got %v\nwant %v", got, want)
	}
	for _, p := range res.Packages {
		if !strings.HasPrefix(p.Path, "usr/lib/python3/dist-packages/") || p.LayerDiffID == "" {
			t.Errorf("%s at %s in %s", p.Name, p.Path, p.LayerDiffID)
		}
		if p.Name == "requests" && p.PURL != "pkg:pypi/requests@"+p.Version {
			t.Errorf("purl %s", p.PURL)
		}
		if p.Name == "charset-normalizer" && p.PURL != "pkg:pypi/charset-normalizer@"+p.Version {
			t.Errorf("purl %s", p.PURL)
		}
	}
}
