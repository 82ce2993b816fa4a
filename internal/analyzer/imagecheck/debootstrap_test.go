package imagecheck_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/ownership"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// scanRootFS scans a debootstrap root filesystem as a one-layer image
// (plus the extra layers) made today, with no USER and no HEALTHCHECK, with
// the analyzers customs runs for the package and config scanners.
func scanRootFS(t *testing.T, dir string, extra ...v1.Layer) *scan.Result {
	t.Helper()
	return scanLayers(t, append([]v1.Layer{testimage.DirLayer(t, dir)}, extra...)...)
}

// scanLayers scans an image of layers made today, with no USER and no
// HEALTHCHECK, as scanRootFS does.
func scanLayers(t *testing.T, layers ...v1.Layer) *scan.Result {
	t.Helper()
	img := testimage.Image(t, v1.Config{Cmd: []string{"sh"}}, layers...)
	img, err := mutate.CreatedAt(img, v1.Time{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return scanImage(t, img)
}

// scanImage scans img with the analyzers customs runs for the package and
// config scanners.
func scanImage(t *testing.T, img v1.Image) *scan.Result {
	t.Helper()
	cfg := all.Config{Scanners: map[string]bool{all.ScannerPackage: true, all.ScannerConfig: true}}
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

// setIDFiles lists the setuid and setgid regular files of a root
// filesystem, read from the file system itself, as "setuid-file@path".
func setIDFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.Mode()&fs.ModeSetuid != 0 {
			out = append(out, "setuid-file@"+rel)
		}
		if fi.Mode()&fs.ModeSetgid != 0 {
			out = append(out, "setgid-file@"+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestDebianControl: a stock debootstrap minbase bookworm image yields
// exactly the checks that apply to it and nothing else.
func TestDebianControl(t *testing.T) {
	dir := testimage.Debootstrap(t)
	res := scanRootFS(t, dir)
	if res.OS == nil || res.OS.Family != "debian" || res.OS.Version != "12" {
		t.Fatalf("os = %+v, want debian 12", res.OS)
	}
	// The setuid and setgid programs of the shadow (passwd, login) and
	// util-linux (mount) packages that minbase installs: the password and
	// account tools, su, mount and umount, and PAM's unix_chkpwd. Their
	// packages installed them as they are (dpkg's md5sums, under the
	// pre-usrmerge paths bin/su, sbin/unix_chkpwd): counted, not reported.
	setid := []string{
		"setgid-file@usr/bin/chage", "setgid-file@usr/bin/expiry", "setgid-file@usr/sbin/unix_chkpwd",
		"setuid-file@usr/bin/chfn", "setuid-file@usr/bin/chsh", "setuid-file@usr/bin/gpasswd",
		"setuid-file@usr/bin/mount", "setuid-file@usr/bin/newgrp", "setuid-file@usr/bin/passwd",
		"setuid-file@usr/bin/su", "setuid-file@usr/bin/umount",
	}
	if fromFS := setIDFiles(t, dir); !slices.Equal(fromFS, setid) {
		t.Fatalf("the root filesystem's setuid/setgid files %v differ from the list this test expects", fromFS)
	}
	want := []string{
		"user-root@config.User",                  // no USER in the configuration
		"healthcheck-missing@config.Healthcheck", // no HEALTHCHECK
		// debootstrap leaves the index it installed from in var/lib/apt/lists
		// (official Debian images remove it).
		"package-cache@var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
	}
	sort.Strings(want)
	got := ids(res.Findings)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got  %v\n want %v", got, want)
	}
	if n := res.Dropped[ownership.DroppedSetid]; n != len(setid) {
		t.Errorf("%d setuid/setgid programs counted as packaged, want %d (%v)", n, len(setid), res.Dropped)
	}
}

// TestDebianRemoteAccess: openssh-server and inetutils-telnetd installed
// through apt are found both by package and by binary path.
func TestDebianRemoteAccess(t *testing.T) {
	dir := testimage.Debootstrap(t, "openssh-server", "inetutils-telnetd")
	res := scanRootFS(t, dir)
	got := ids(res.Findings)
	// The packages as dpkg itself lists them in the root filesystem.
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(dir, "var/lib/dpkg"), "-W", "-f", "${Package} ${Version}\n",
		"openssh-server", "inetutils-telnetd", "inetutils-inetd").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	versions := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		n, v, _ := strings.Cut(l, " ")
		versions[n] = v
	}
	for _, w := range []string{
		"ssh-server@package:openssh-server", "ssh-server@usr/sbin/sshd",
		"telnet-server@package:inetutils-telnetd", "telnet-server@usr/sbin/telnetd",
		"inetd-installed@package:inetutils-inetd", "inetd-installed@usr/sbin/inetutils-inetd",
	} {
		if !slices.Contains(got, w) {
			t.Errorf("missing %s in %v", w, got)
		}
	}
	for _, f := range res.Findings {
		if f.Package != nil && f.Package.Version != versions[f.Package.Name] {
			t.Errorf("%s: package %s %s, dpkg says %s", f.ID, f.Package.Name, f.Package.Version, versions[f.Package.Name])
		}
	}
	// The package's postinst adds telnet to inetd.conf disabled ("#<off>#").
	if slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "inetd-service@") }) {
		t.Errorf("disabled inetd service reported: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "usr/sbin/sshd")); err != nil {
		t.Fatal(err)
	}
	// Debian's sshd_config, root's password locked, no authorized keys:
	// nothing for the sshd configuration checks.
	if res.Files["etc/ssh/sshd_config"] == nil || res.Files["etc/shadow"] == nil {
		t.Fatal("sshd_config or shadow not kept")
	}
	if slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "sshd-") }) {
		t.Errorf("stock sshd configuration reported: %v", got)
	}
	// A layer like `RUN echo 'PermitRootLogin yes' >> /etc/ssh/sshd_config`
	// with a drop-in that says no, plus a baked root key: the drop-in is
	// read first (Debian's sshd_config includes sshd_config.d on its line
	// 12), so root cannot log in and nothing is reported.
	config, err := os.ReadFile(filepath.Join(dir, "etc/ssh/sshd_config"))
	if err != nil {
		t.Fatal(err)
	}
	res = scanRootFS(t, dir, testimage.Layer(t,
		testimage.File("etc/ssh/sshd_config", string(config)+"PermitRootLogin yes\n"),
		testimage.File("etc/ssh/sshd_config.d/10-root.conf", "PermitRootLogin no\n"),
		testimage.File("root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJz4fJqk3Zr0Q8cPp5gS1mJ1yv3V0u7kq3bV4k2xW9aB ci\n")))
	if got := ids(res.Findings); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "sshd-") }) {
		t.Errorf("PermitRootLogin no in a drop-in read first, yet %v", got)
	}
	res = scanRootFS(t, dir, testimage.Layer(t,
		testimage.File("etc/ssh/sshd_config.d/10-root.conf", "PermitRootLogin yes\n"),
		testimage.File("root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJz4fJqk3Zr0Q8cPp5gS1mJ1yv3V0u7kq3bV4k2xW9aB ci\n")))
	if got := ids(res.Findings); !slices.Contains(got, "sshd-permit-root-login@etc/ssh/sshd_config.d/10-root.conf:1") {
		t.Errorf("PermitRootLogin yes in a drop-in not reported: %v", got)
	}
}
