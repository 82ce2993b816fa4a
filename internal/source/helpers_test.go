package source_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// sampleImage has three layers: files, an overwrite and a whiteout, and
// an executable.
func sampleImage(t testing.TB) v1.Image {
	t.Helper()
	return testimage.Image(t, v1.Config{Env: []string{"PATH=/bin", "GREETING=hello"}, User: "1000"},
		testimage.Layer(t, testimage.Dir("etc"), testimage.File("etc/os-release", "ID=customs-test\n"),
			testimage.Dir("app"), testimage.File("app/hello.txt", "hello v1\n"), testimage.File("app/old.txt", "old\n")),
		testimage.Layer(t, testimage.Dir("app"), testimage.File("app/hello.txt", "hello v2\n"), testimage.Whiteout("app/old.txt")),
		testimage.Layer(t, testimage.Dir("bin"), testimage.Exec("bin/tool", []byte("#!/bin/sh\necho tool\n"))),
	)
}

// finalFiles is what sampleImage's final filesystem holds.
var finalFiles = map[string]string{
	"etc/os-release": "ID=customs-test\n",
	"app/hello.txt":  "hello v2\n",
	"bin/tool":       "#!/bin/sh\necho tool\n",
}

// keepFiles keeps every regular file, so a test sees what the engine saw.
type keepFiles struct{}

func (keepFiles) Name() string { return "keep-files" }
func (keepFiles) Version() int { return 1 }
func (keepFiles) Need(e *analyzer.Entry) analyzer.Need {
	if e.IsRegular() {
		return analyzer.Content
	}
	return analyzer.Skip
}
func (keepFiles) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	r.Keep(f.Path, f.Content)
	return nil
}

// checkScan scans img and compares what the engine saw with want, the
// image as built: its configuration's diff IDs, history and final files.
func checkScan(t *testing.T, img source.Image, want v1.Image) *scan.Result {
	t.Helper()
	res, err := scan.Run(context.Background(), img, scan.Options{Analyzers: []analyzer.Analyzer{keepFiles{}}})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	cf, err := want.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != len(cf.RootFS.DiffIDs) {
		t.Fatalf("%d layers, want %d", len(res.Layers), len(cf.RootFS.DiffIDs))
	}
	for i, l := range res.Layers {
		if l.DiffID != cf.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d diff ID %s, want %s", i, l.DiffID, cf.RootFS.DiffIDs[i])
		}
		if want := cf.History[i].CreatedBy; l.CreatedBy != want {
			t.Errorf("layer %d created by %q, want %q", i, l.CreatedBy, want)
		}
	}
	if len(res.Files) != len(finalFiles) {
		t.Errorf("final files %v, want %v", keys(res.Files), finalFiles)
	}
	for p, body := range finalFiles {
		if got := string(res.Files[p]); got != body {
			t.Errorf("%s holds %q, want %q", p, got, body)
		}
	}
	if res.View.Owner("app/old.txt") >= 0 {
		t.Error("app/old.txt was deleted by layer 1 but is in the final view")
	}
	if got := img.Meta().Config.Config.Env; !slices.Equal(got, cf.Config.Env) {
		t.Errorf("config Env %v, want %v", got, cf.Config.Env)
	}
	if got := img.Meta().Config.Config.User; got != cf.Config.User {
		t.Errorf("config User %q, want %q", got, cf.Config.User)
	}
	return res
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// uniqueTag returns a tag no other test run uses.
func uniqueTag(repo string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return repo + ":t" + hex.EncodeToString(b)
}

// writeDockerArchive writes img as a docker-save archive (gzip layers, as
// go-containerregistry writes them) tagged tag.
func writeDockerArchive(t testing.TB, img v1.Image, tag string) string {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(p, ref, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func configDigest(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func readAll(t testing.TB, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
