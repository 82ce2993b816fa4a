package gobinary

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/testimage"
)

var hello struct {
	once sync.Once
	bin  []byte
	err  error
}

// buildHello builds testdata/hello, a program that requires pinned old
// module versions (one of them replaced), once per test binary, and
// returns the executable.
func buildHello(t testing.TB) []byte {
	t.Helper()
	gobin := testimage.RequireTool(t, "go")
	hello.once.Do(func() { hello.bin, hello.err = build(gobin) })
	if hello.err != nil {
		t.Fatal(hello.err)
	}
	return hello.bin
}

func build(gobin string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "customs-gobinary-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join("testdata/hello", name))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(gobin, "build", "-o", "hello", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "hello"))
}

// goVersionM lists the modules of the executable in b as `go version -m`
// prints them: "path@version" for the main module (version left out when
// "(devel)"), each dependency as built (after replacement) and stdlib.
func goVersionM(t testing.TB, b []byte) []string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(f, b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "version", "-m", f).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	_, toolchain, _ := strings.Cut(lines[0], ": ")
	want := []string{"stdlib@" + strings.TrimPrefix(toolchain, "go")}
	for i, l := range lines {
		fs := strings.Split(strings.TrimPrefix(l, "\t"), "\t")
		switch {
		case fs[0] == "mod":
			v := fs[2]
			if v == "(devel)" {
				v = ""
			}
			want = append(want, fs[1]+"@"+v)
		case fs[0] == "dep":
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t=>\t") {
				r := strings.Split(lines[i+1], "\t")
				want = append(want, r[2]+"@"+r[3])
				continue
			}
			want = append(want, fs[1]+"@"+fs[2])
		}
	}
	sort.Strings(want)
	return want
}

func TestGoBinaryInImage(t *testing.T) {
	bin := buildHello(t)
	want := goVersionM(t, bin)
	if len(want) != 6 {
		t.Fatalf("go version -m lists %v; the test program should have 6 modules", want)
	}
	noExec := testimage.Entry{Path: "srv/app/bin/hello-copy", Body: bin, Mode: 0o644}
	hidden := testimage.Entry{Path: "srv/data/blob", Body: bin, Mode: 0o644}
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.Exec("usr/local/bin/whatever-name", bin), noExec, hidden, testimage.Exec("opt/gone", bin)),
		testimage.Layer(t, testimage.Whiteout("opt/gone")),
	)
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if got := testimage.IDs(res.Packages); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("packages\n got %v\nwant %v", got, want)
	}
	for _, p := range res.Packages {
		if p.Path != "usr/local/bin/whatever-name" || strings.Join(p.Locations, ",") != "srv/app/bin/hello-copy" {
			t.Errorf("%s at %s %v; want the executable and the copy without execute bits in a bin directory", p.Name, p.Path, p.Locations)
		}
		if p.LayerDiffID != res.Layers[0].DiffID {
			t.Errorf("%s layer %s", p.Name, p.LayerDiffID)
		}
		switch p.Name {
		case "rsc.io/quote":
			if p.PURL != "pkg:golang/rsc.io/quote@v1.5.2" {
				t.Errorf("purl %s", p.PURL)
			}
		case "github.com/pkg/errors":
			if p.Metadata["go_replaces"] != "github.com/pkg/errors@v0.8.1" || p.PURL != "pkg:golang/github.com/pkg/errors@v0.9.1" {
				t.Errorf("replaced module %+v", p)
			}
		case "stdlib":
			if p.PURL != "pkg:golang/stdlib@"+p.Version || strings.HasPrefix(p.Version, "go") {
				t.Errorf("stdlib %+v", p)
			}
		case "example.com/customs/hello":
			if p.PURL != "pkg:golang/example.com/customs/hello" || p.Metadata["go_main_module"] != "true" {
				t.Errorf("main module %+v", p)
			}
		}
	}
}

func TestNotGo(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe") // a Go executable: the test binary
	if err != nil {
		t.Fatal(err)
	}
	ls, err := os.ReadFile("/bin/ls") // an ELF executable not built by Go
	if err != nil {
		t.Skip(err)
	}
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.Layer(t,
		testimage.Exec("bin/ls", ls),
		testimage.Exec("bin/script", append([]byte("#!/bin/sh\n"), bytes.Repeat([]byte("#"), MinSize)...)),
		testimage.Exec("bin/tiny", self[:MinSize-1]),
	)), []analyzer.Analyzer{New()})
	if len(res.Packages) != 0 || len(res.Warnings) != 0 {
		t.Fatalf("packages %v warnings %v", res.Packages, res.Warnings)
	}
}

// TestTruncated reads a Go executable larger than the per-file limit: the
// build information still comes from the part that was read, and when it
// was not read a warning names the file.
func TestTruncated(t *testing.T) {
	bin := buildHello(t)
	want := goVersionM(t, bin)
	at := bytes.Index(bin, buildInfoMagic)
	if at < 0 {
		t.Fatal("no build information in the test program")
	}
	tar := testimage.Tar(t, testimage.Exec("app/server", bin))
	w, err := layer.Walk(context.Background(), bytes.NewReader(tar), []analyzer.Analyzer{New()}, layer.Limits{MaxFileBytes: int64(at + 64<<10)})
	if err != nil {
		t.Fatal(err)
	}
	if got := testimage.IDs(w.Result.Packages); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("truncated at %d of %d bytes: got %v, want %v", at+64<<10, len(bin), got, want)
	}
	w, err = layer.Walk(context.Background(), bytes.NewReader(tar), []analyzer.Analyzer{New()}, layer.Limits{MaxFileBytes: int64(at + 20)})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Result.Packages) != 0 || len(w.Result.Warnings) != 1 || !strings.HasPrefix(w.Result.Warnings[0], "app/server: ") {
		t.Fatalf("packages %v warnings %v", w.Result.Packages, w.Result.Warnings)
	}
}

func TestStdlibVersion(t *testing.T) {
	for in, want := range map[string]string{"go1.21.3": "1.21.3", "go1.22.0 X:boringcrypto": "1.22.0", "go1.20": "1.20", "devel go1.23-abc": "", "": ""} {
		if got := StdlibVersion(in); got != want {
			t.Errorf("StdlibVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzGoBinary(f *testing.F) {
	f.Add([]byte("\x7fELF"))
	f.Add(append(append([]byte{}, buildInfoMagic...), 8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 'g', 'o', '1', '.', '2', '1', '.', '3', 0))
	a := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		var r analyzer.Result
		for _, trunc := range []bool{false, true} {
			if err := a.Analyze(context.Background(), &analyzer.File{Entry: analyzer.Entry{Path: "bin/x"}, Content: b, Truncated: trunc}, &r); err != nil {
				t.Fatal(err)
			}
		}
		ReadBlob(b)
	})
}
