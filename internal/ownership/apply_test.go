package ownership_test

import (
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/ownership"
)

// TestLanguagePackages: a lockfile that a Debian node-* package ships
// describes its build tree, not what is installed; installed metadata an
// OS package owns marks its package os_owned; the image's own are left
// alone.
func TestLanguagePackages(t *testing.T) {
	img := ownership.Image{Owned: ownership.Files{
		"usr/share/nodejs/typescript/package-lock.json":   {Package: "node-typescript", Digest: "md5:00"},
		"usr/share/nodejs/typescript/package.json":        {Package: "node-typescript", Digest: "md5:01"},
		"usr/lib/python3/dist-packages/requests/METADATA": {Package: "python3-requests", Digest: "md5:02"},
	}, Digest: func(string, string) (analyzer.Digest, bool) { return analyzer.Digest{}, false }}
	pkgs := []model.Package{
		{Name: "glibc", Type: model.TypeDeb, Path: "var/lib/dpkg/status"},
		{Name: "source-map", Version: "0.7.4", Type: model.TypeNPM, Path: "usr/share/nodejs/typescript/package-lock.json"},
		{Name: "typescript", Version: "4.8.4", Type: model.TypeNPM, Path: "usr/share/nodejs/typescript/package.json"},
		{Name: "requests", Version: "2.28.1", Type: model.TypePyPI, Path: "usr/lib/python3/dist-packages/requests/METADATA"},
		{Name: "lodash", Version: "4.17.11", Type: model.TypeNPM, Path: "usr/src/app/node_modules/lodash/package.json"},
		{Name: "left-pad", Version: "1.3.0", Type: model.TypeNPM, Path: "usr/src/app/package-lock.json"},
		// Found where the OS package put it and where the author did:
		// the author's copy is not the distribution's to patch.
		{Name: "six", Version: "1.16.0", Type: model.TypePyPI, Path: "usr/lib/python3/dist-packages/requests/METADATA",
			Locations: []string{"usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA"}},
		// In the lockfile an OS package ships and in the author's: the
		// author's entry stays.
		{Name: "ms", Version: "2.1.3", Type: model.TypeNPM, Path: "usr/share/nodejs/typescript/package-lock.json",
			Locations: []string{"usr/src/app/package-lock.json"}},
	}
	_, kept, dropped := ownership.Apply(img, nil, pkgs)
	got := map[string]string{}
	for _, p := range kept {
		got[p.Name] = p.OSPackage
		if p.OSOwned != (p.OSPackage != "") {
			t.Errorf("%s: os_owned %v, os_package %q", p.Name, p.OSOwned, p.OSPackage)
		}
	}
	want := map[string]string{"glibc": "", "typescript": "node-typescript", "requests": "python3-requests", "lodash": "", "left-pad": "", "six": "", "ms": ""}
	if len(got) != len(want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	for n, w := range want {
		if g, ok := got[n]; !ok || g != w {
			t.Errorf("%s: kept %v, owner %q, want %q", n, ok, g, w)
		}
	}
	if dropped[ownership.DroppedLockfile] != 1 {
		t.Errorf("dropped %v", dropped)
	}
	for _, p := range kept {
		if p.Name == "ms" && (p.Path != "usr/src/app/package-lock.json" || len(p.Locations) != 0) {
			t.Errorf("ms: path %s, locations %v; want the author's lockfile alone", p.Path, p.Locations)
		}
	}
}
