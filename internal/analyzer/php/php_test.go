package php

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

func describe(pkgs []model.Package) []string {
	var out []string
	for _, p := range pkgs {
		locs := append([]string{p.Path}, p.Locations...)
		sort.Strings(locs)
		out = append(out, fmt.Sprintf("%s %s %s %v dev=%s", p.PURL, p.Name, strings.Join(p.Licenses, ","), locs, p.Metadata["dev"]))
	}
	sort.Strings(out)
	return out
}

// packages the test installs from local path repositories, as their own
// composer.json files state them.
var local = []struct{ name, version, license, dir string }{
	{"acme/log", "v1.4.2", "MIT", "log"},
	{"acme/util", "2.0.1", "BSD-3-Clause", "util"},
	{"Acme/Test-Kit", "0.3.0-beta1", "Apache-2.0", "testkit"},
}

// TestComposerInstall runs Composer offline on path repositories and reads
// the vendor directory and lockfile it writes.
func TestComposerInstall(t *testing.T) {
	testimage.RequireTool(t, "composer")
	dir := t.TempDir()
	for _, p := range local {
		m := map[string]any{"name": p.name, "version": p.version, "license": p.license, "type": "library"}
		if p.dir == "log" {
			m["require"] = map[string]string{"acme/util": "^2.0"}
		}
		writeJSON(t, filepath.Join(dir, "pkgs", p.dir, "composer.json"), m)
	}
	writeJSON(t, filepath.Join(dir, "app", "composer.json"), map[string]any{
		"name":              "acme/app",
		"minimum-stability": "beta",
		"repositories":      []any{map[string]any{"packagist.org": false}, map[string]any{"type": "path", "url": filepath.Join(dir, "pkgs", "*"), "options": map[string]any{"symlink": false}}},
		"require":           map[string]string{"acme/log": "^1.4"},
		"require-dev":       map[string]string{"acme/test-kit": "^0.3@beta"},
	})
	cmd := exec.Command("composer", "install", "--no-progress", "--no-interaction", "--no-plugins")
	cmd.Dir = filepath.Join(dir, "app")
	cmd.Env = append(os.Environ(), "COMPOSER_HOME="+filepath.Join(dir, "home"), "COMPOSER_DISABLE_NETWORK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("composer install: %v\n%s", err, out)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, "app", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	installed, lock := read("vendor/composer/installed.json"), read("composer.lock")
	const inst, lk = "srv/app/vendor/composer/installed.json", "srv/app/composer.lock"

	want := func(withLock bool) []string {
		var out []string
		for _, p := range local {
			lower := strings.ToLower(p.name)
			locs := []string{inst}
			if withLock && p.dir != "testkit" {
				locs = []string{lk, inst}
			}
			dev := ""
			if p.dir == "testkit" {
				dev = "true"
			}
			out = append(out, fmt.Sprintf("pkg:composer/%s@%s %s %s %v dev=%s", lower, p.version, lower, p.license, locs, dev))
		}
		sort.Strings(out)
		return out
	}
	check := func(what string, got []string, warns []string, want []string) {
		t.Helper()
		if len(warns) > 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\ngot  %s\nwant %s\nwarnings %v", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "), warns)
		}
	}
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t, testimage.File(inst, installed), testimage.File(lk, lock)))
	check("installed.json and composer.lock", describe(pkgs), warns, want(true))

	// Composer 1 wrote the bare array of packages.
	var v2 struct {
		Packages json.RawMessage `json:"packages"`
	}
	if err := json.Unmarshal([]byte(installed), &v2); err != nil {
		t.Fatal(err)
	}
	pkgs, warns = testimage.Packages(t, New(), testimage.Layer(t, testimage.File(inst, string(v2.Packages))))
	w := want(false)
	for i := range w {
		w[i] = strings.Replace(w[i], "dev=true", "dev=", 1) // Composer 1 did not list dev packages
	}
	check("Composer 1 installed.json", describe(pkgs), warns, w)

	// Removing the vendor directory in a later layer leaves the lockfile's packages.
	pkgs, _ = testimage.Packages(t, New(), testimage.Layer(t, testimage.File(inst, installed), testimage.File(lk, lock)), testimage.Layer(t, testimage.Whiteout("srv/app/vendor")))
	for _, p := range pkgs {
		if p.Path != lk || len(p.Locations) != 0 {
			t.Errorf("after deleting vendor: %+v", p)
		}
	}
	if len(pkgs) != 2 {
		t.Errorf("after deleting vendor: %d packages, want 2", len(pkgs))
	}
}

func writeJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t,
		testimage.File("a/composer.lock", `{"packages": [{"name": "x/y", "version": "1.0"`),
		testimage.File("b/vendor/composer/installed.json", `{"packages": [{"name": "ok/pkg", "version": "v2.0.0", "license": "MIT"}, {"name": "noslash", "version": "1"}, {"name": "a/b", "version": "1 2"}]}`),
		testimage.File("c/composer.lock", strings.Repeat(" ", MaxFileBytes+1)),
		testimage.File("d/composer.lock", `{"packages": {"not": "an array"}}`),
	))
	if got := describe(pkgs); len(got) != 1 || got[0] != "pkg:composer/ok/pkg@v2.0.0 ok/pkg MIT [b/vendor/composer/installed.json] dev=" {
		t.Errorf("got %v", got)
	}
	if len(warns) != 4 {
		t.Fatalf("want 4 warnings, got %q", warns)
	}
	for _, w := range warns {
		if !strings.HasPrefix(w, "layer sha256:") || !(strings.Contains(w, "composer.lock") || strings.Contains(w, "installed.json")) {
			t.Errorf("warning without layer or path: %q", w)
		}
	}
}

func FuzzInstalled(f *testing.F) {
	f.Add([]byte(`{"packages":[{"name":"acme/log","version":"v1.4.2","version_normalized":"1.4.2.0","license":["MIT"]}],"dev":true,"dev-package-names":["acme/log"]}`))
	f.Add([]byte(`[{"name":"acme/log","version":"v1.4.2","license":"MIT"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseInstalled(b)
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Fatalf("invalid package accepted: %+v", p)
			}
		}
	})
}

func FuzzComposerLock(f *testing.F) {
	f.Add([]byte(`{"packages":[{"name":"acme/util","version":"2.0.1","license":["BSD-3-Clause"]}],"packages-dev":[{"name":"acme/test-kit","version":"0.3.0-beta1"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseComposerLock(b)
		for _, p := range pkgs {
			if !validName(p.Name) || !validVersion(p.Version) {
				t.Fatalf("invalid package accepted: %+v", p)
			}
		}
	})
}

func TestLockPaths(t *testing.T) {
	for p, want := range map[string]bool{
		"srv/app/composer.lock":                        true,
		"composer.lock":                                true,
		"vendor/composer.lock":                         true,
		"srv/app/vendor/symfony/console/composer.lock": false,
		"srv/app/vendor/composer/installed.json":       false,
	} {
		if isLock(p) != want {
			t.Errorf("isLock(%q) = %v", p, !want)
		}
	}
}
