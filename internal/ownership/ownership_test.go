package ownership_test

import (
	"crypto/sha1"
	"encoding/base64"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/ownership"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// setidFindings lists path:severity of the setuid and setgid findings.
func setidFindings(res *scan.Result) []string {
	var out []string
	for _, f := range res.Findings {
		if f.ID == "setuid-file" || f.ID == "setgid-file" {
			out = append(out, f.Path+":"+string(f.Severity))
		}
	}
	sort.Strings(out)
	return out
}

// TestAlpineBusybox: apk records busybox with its SHA-1 and its setuid
// mode (a:0:0:4755); the packaged binary is not reported, a replaced one
// is, and so is a setuid program no package installed.
func TestAlpineBusybox(t *testing.T) {
	dir := t.TempDir()
	busybox := "\x7fELF busybox 1.36.1 multi-call binary"
	sum := sha1.Sum([]byte(busybox))
	db := "P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\nF:bin\nR:busybox\na:0:0:4755\nZ:Q1" + base64.StdEncoding.EncodeToString(sum[:]) + "\n\n"
	for p, body := range map[string]string{
		"etc/os-release":       "ID=alpine\nVERSION_ID=3.19.1\n",
		"lib/apk/db/installed": db,
		"bin/busybox":          busybox,
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/busybox"), 0o755|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	res := scanLayers(t, dir)
	if got := setidFindings(res); len(got) != 0 || res.Dropped[ownership.DroppedSetid] != 1 {
		t.Errorf("stock: setuid findings %v, dropped %v", got, res.Dropped)
	}
	res = scanLayers(t, dir, testimage.Layer(t,
		setuidExec("bin/busybox", busybox+" patched"),
		setuidExec("usr/local/bin/helper", "\x7fELF helper")))
	if got, want := setidFindings(res), []string{"bin/busybox:CRITICAL", "usr/local/bin/helper:HIGH"}; !slices.Equal(got, want) {
		t.Errorf("planted: setuid findings %v, want %v", got, want)
	}
}

// TestRPMPackageFiles installs a package with rpm into a root filesystem:
// its setuid helper and a configuration file whose sample key trips a
// generic secret rule are the package's and not reported; a packaged file
// a later layer makes setuid is.
func TestRPMPackageFiles(t *testing.T) {
	testimage.RequireTool(t, "rpmbuild")
	top := t.TempDir()
	spec := filepath.Join(top, "owned.spec")
	body := "Name: customs-owned\nVersion: 1\nRelease: 1.el9\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n" +
		"%install\nmkdir -p %{buildroot}/usr/bin %{buildroot}/etc\n" +
		"printf '#!/bin/sh\\necho helper\\n' > %{buildroot}/usr/bin/owned-helper\n" +
		"printf '#!/bin/sh\\necho tool\\n' > %{buildroot}/usr/bin/owned-tool\n" +
		"printf '# sample configuration\\napi_key = \"Xq7Lm2Vz9Rt4Kp8Wn3Bc6Hy1Jd5Fs0Ga\"\\n' > %{buildroot}/etc/owned.conf\n" +
		"%files\n%attr(4755,root,root) /usr/bin/owned-helper\n%attr(0755,root,root) /usr/bin/owned-tool\n%config /etc/owned.conf\n"
	if err := os.WriteFile(spec, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmbuild", "--define", "_topdir "+top, "-bb", spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rpmFile := filepath.Join(top, "RPMS", "noarch", "customs-owned-1-1.el9.noarch.rpm")
	db := []string{"--root", root, "--dbpath", "/var/lib/rpm"}
	for _, args := range [][]string{append(db, "--initdb"), append(db, "-i", "--nodeps", "--noscripts", rpmFile)} {
		if out, err := exec.Command("rpm", args...).CombinedOutput(); err != nil {
			t.Fatalf("rpm %v: %v\n%s", args, err, out)
		}
	}
	res := scanLayers(t, root)
	if len(res.Packages) != 1 || res.Packages[0].Name != "customs-owned" {
		t.Fatalf("packages %+v", res.Packages)
	}
	if got := setidFindings(res); len(got) != 0 || res.Dropped[ownership.DroppedSetid] != 1 {
		t.Errorf("stock: setuid findings %v, dropped %v", got, res.Dropped)
	}
	if got := byClass(res, model.ClassSecret); len(got) != 0 || res.Dropped[ownership.DroppedGenericSecret] != 1 {
		t.Errorf("stock: secret findings %v, dropped %v", got, res.Dropped)
	}
	tool, err := os.ReadFile(filepath.Join(root, "usr/bin/owned-tool"))
	if err != nil {
		t.Fatal(err)
	}
	res = scanLayers(t, root, testimage.Layer(t, setuidExec("usr/bin/owned-tool", string(tool))))
	if got, want := setidFindings(res), []string{"usr/bin/owned-tool:HIGH"}; !slices.Equal(got, want) {
		t.Errorf("planted: setuid findings %v, want %v", got, want)
	}
}
