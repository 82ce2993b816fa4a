package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/testimage"
)

// goVulnDB is the Go vulnerability database (golang.org/x/vulndb), whose
// data/osv directory holds every Go advisory in OSV form: this version has
// 4,789 records, up to November 2026.
const (
	goVulnDB        = "golang.org/x/vulndb"
	goVulnDBVersion = "v0.0.0-20261105234957-e22db6528018"
)

// buildWithText builds a program that imports golang.org/x/text at
// version, with the machine's Go toolchain and the Go module proxy.
func buildWithText(t *testing.T, version string) []byte {
	t.Helper()
	goTool := testimage.RequireTool(t, "go")
	dir := t.TempDir()
	for name, body := range map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.Make(\"en\")) }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"get", "golang.org/x/text@" + version}, {"build", "-o", "app", "."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRealGoAdvisories imports the whole Go vulnerability database and
// scans an image holding a Go program built against golang.org/x/text
// v0.3.5: the advisories fixed later than v0.3.5 are reported with their
// fixed versions and aliases, the one fixed in v0.3.3 is not.
func TestRealGoAdvisories(t *testing.T) {
	records := filepath.Join(testimage.GoModule(t, goVulnDB, goVulnDBVersion), "data", "osv")
	db := t.TempDir()
	if code, out, stderr := runMain(t, "db", "import", "--db-dir", db, records); code != ExitOK || !strings.Contains(string(out)+stderr, "4789") {
		t.Fatalf("db import: exit %d: %s %s", code, out, stderr)
	}
	img := writeLayout(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.Exec("usr/local/bin/app", buildWithText(t, "v0.3.5")))))
	code, rep, stderr := jsonReport(t, "image", img, "--db-dir", db, "--scanners", "vuln", "--no-cache")
	if rep == nil || code != ExitOK {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	fixed := map[string]string{}
	for _, f := range rep.Findings {
		if f.Package == nil || f.Package.Name != "golang.org/x/text" {
			continue
		}
		// The CVE names the finding; the Go advisory is among its aliases.
		ids := append([]string{f.ID}, f.Aliases...)
		i := slices.IndexFunc(ids, func(a string) bool { return strings.HasPrefix(a, "GO-") })
		if f.Package.Version != "v0.3.5" || !strings.HasPrefix(f.ID, "CVE-") || i < 0 {
			t.Errorf("%s: package %+v, aliases %v", f.ID, f.Package, f.Aliases)
			continue
		}
		fixed[ids[i]] = f.FixedVersion
	}
	want := map[string]string{"GO-2021-0113": "0.3.7", "GO-2022-1059": "0.3.8", "GO-2026-5970": "0.39.0", "GO-2026-6629": "0.41.0"}
	if len(fixed) != len(want) {
		t.Errorf("golang.org/x/text v0.3.5: advisories %v, want %v", fixed, want)
	}
	for id, v := range want {
		if !strings.HasSuffix(fixed[id], v) {
			t.Errorf("%s: fixed version %q, want %s", id, fixed[id], v)
		}
	}
}
