package ownership_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/ownership"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// scanLayers scans an image of the root filesystem dir plus extra layers
// with the package, secret and config scanners.
func scanLayers(t *testing.T, dir string, extra ...v1.Layer) *scan.Result {
	t.Helper()
	return scanImage(t, testimage.Image(t, v1.Config{Cmd: []string{"node"}}, append([]v1.Layer{testimage.DirLayer(t, dir)}, extra...)...))
}

// scanImage scans img with the package, secret and config scanners.
func scanImage(t *testing.T, img v1.Image) *scan.Result {
	t.Helper()
	cfg := all.Config{Scanners: map[string]bool{all.ScannerPackage: true, all.ScannerSecret: true, all.ScannerConfig: true},
		PasswordGuessing: "off"}
	las, err := all.Layer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ias, err := all.Image(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testimage.Scan(t, img, las, ias...)
}

// byClass lists class/id@path of the findings of the classes given.
func byClass(res *scan.Result, classes ...model.Class) []string {
	var out []string
	for _, f := range res.Findings {
		if slices.Contains(classes, f.Class) {
			out = append(out, f.ID+"@"+f.Path)
		}
	}
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setuidExec is a setuid-root program entry.
func setuidExec(p, body string) testimage.Entry {
	return testimage.Entry{Path: p, Body: []byte(body), Mode: 0o4755, Type: tar.TypeReg}
}

// TestDebianPackageFiles: on a debootstrap bookworm with Node.js, the
// TypeScript library (whose .d.ts files trip generic secret rules) and an
// OpenSSH server, what Debian's packages installed is not reported, the
// host keys generated at install time are, and every planted change is.
func TestDebianPackageFiles(t *testing.T) {
	dir := testimage.Debootstrap(t, "openssh-server", "node-typescript")
	res := scanLayers(t, dir)

	setid := func(r *scan.Result) []string {
		var out []string
		for _, f := range r.Findings {
			if f.ID == "setuid-file" || f.ID == "setgid-file" {
				out = append(out, f.Path+":"+string(f.Severity))
			}
		}
		sort.Strings(out)
		return out
	}
	if got := setid(res); len(got) != 0 {
		t.Errorf("stock image: setuid/setgid findings %v", got)
	}
	if res.Dropped[ownership.DroppedSetid] == 0 || res.Dropped[ownership.DroppedGenericSecret] == 0 {
		t.Errorf("packaged setuid programs or generic-rule hits in TypeScript's files not counted: %v", res.Dropped)
	}
	// The secrets of a stock image are the host keys ssh-keygen made when
	// openssh-server was configured: in no package database, so reported.
	for _, s := range byClass(res, model.ClassSecret) {
		if !strings.HasPrefix(s, "private-key@etc/ssh/ssh_host_") {
			t.Errorf("stock image: secret finding %s", s)
		}
	}
	if n := len(byClass(res, model.ClassSecret)); n < 2 {
		t.Errorf("%d host key findings, want the ed25519, ecdsa and rsa keys", n)
	}
	for _, f := range res.Findings {
		if f.Class == model.ClassSecret && f.Extra[model.ExtraOwner] != "" {
			t.Errorf("host key %s marked as package content (%s)", f.Path, f.Extra[model.ExtraOwner])
		}
	}

	// Planted: a modified TypeScript declaration file carrying a key, a
	// setuid copy of find, and passwd rewritten by a later layer.
	dts := filepath.Join(dir, "usr/share/nodejs/typescript/lib/lib.es5.d.ts")
	planted := readFile(t, dts) + "\nconst apiKey = \"k3J9sQ2vX7mZ4pL8wR1tY6uN0bC5hG3d\";\n"
	passwd := readFile(t, filepath.Join(dir, "usr/bin/passwd"))
	res = scanLayers(t, dir, testimage.Layer(t,
		testimage.File("usr/share/nodejs/typescript/lib/lib.es5.d.ts", planted),
		setuidExec("usr/local/bin/find", readFile(t, filepath.Join(dir, "usr/bin/find"))),
		setuidExec("usr/bin/passwd", passwd)))
	got := setid(res)
	want := []string{"usr/bin/passwd:HIGH", "usr/local/bin/find:CRITICAL"}
	if !slices.Equal(got, want) {
		t.Errorf("planted setuid findings %v, want %v", got, want)
	}
	var dtsSecret bool
	for _, f := range res.Findings {
		if f.Class == model.ClassSecret && f.Path == "usr/share/nodejs/typescript/lib/lib.es5.d.ts" {
			dtsSecret = true
			if f.Extra[model.ExtraOwner] != "" {
				t.Errorf("modified file marked as package content: %+v", f)
			}
		}
		if f.Path == "usr/bin/passwd" && !strings.Contains(f.Extra["ownership"], "later layer") {
			t.Errorf("passwd: ownership %q", f.Extra["ownership"])
		}
	}
	if !dtsSecret {
		t.Errorf("the key planted in a modified package file was not found: %v", byClass(res, model.ClassSecret))
	}
}
