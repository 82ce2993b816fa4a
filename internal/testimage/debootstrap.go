package testimage

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Suite is the Debian release the test root filesystems use.
const Suite = "bookworm"

// CacheDir is where test artifacts that are slow to make are kept between
// runs: $CUSTOMS_TEST_CACHE, else ~/.cache/customs-test.
func CacheDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CUSTOMS_TEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "customs-test")
}

// RequireTool skips the test when a program is missing, unless CI is set,
// where the missing program is a failure of .ci/run.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	unavailable(t, name+" is not installed (add its Debian package to .ci/packages.txt)")
	return ""
}

// unavailable skips the test for why, or fails it when CI is set.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: %s", why)
	}
	t.Skip(why)
}

// Debootstrap returns a Debian bookworm minbase root filesystem with the
// extra packages in include, made once with debootstrap and cached. Callers
// must not modify it; copy it first if a test needs changes. Without
// debootstrap or root the test is skipped, or fails when CI is set: there
// a test that cannot run is a broken environment, not a pass.
func Debootstrap(t testing.TB, include ...string) string {
	t.Helper()
	RequireTool(t, "debootstrap")
	if os.Geteuid() != 0 {
		unavailable(t, "debootstrap needs root")
	}
	dir, err := DebootstrapDir(CacheDir(t), include...)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// DebianJavaPython is a Debootstrap root filesystem with Java archives and
// Python distributions installed by Debian's own packages: the one the
// Java and Python analyzers' tests share.
func DebianJavaPython(t testing.TB) string {
	t.Helper()
	return Debootstrap(t, "liblog4j2-java", "python3-requests")
}

// DebootstrapDir makes (once) and returns a Debian bookworm minbase root
// filesystem with the extra packages in include, below cacheDir.
func DebootstrapDir(cacheDir string, include ...string) (string, error) {
	h := sha256.Sum256([]byte(strings.Join(include, ",")))
	dir := filepath.Join(cacheDir, "debootstrap", Suite+"-minbase-"+hex.EncodeToString(h[:6]))
	done := dir + ".done"
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Several test binaries may want the same root filesystem at once.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return "", err
	}
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	// A debootstrap killed mid-way (a test timeout) leaves proc and sys
	// mounted inside its target: unmount them, or nothing can remove it.
	unmountUnder(dir)
	os.RemoveAll(dir)
	args := []string{"--variant=minbase"}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	args = append(args, Suite, dir, debianMirror())
	cmd := exec.Command("debootstrap", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("debootstrap %v: %v\n%s", args, err, tail(out, 3000))
	}
	// Downloaded .deb files are not part of what the tests look at.
	os.RemoveAll(filepath.Join(dir, "var/cache/apt/archives"))
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// debianMirror reads the Debian mirror this machine uses.
func debianMirror() string {
	f, err := os.Open("/etc/apt/sources.list.d/debian.sources")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "URIs:"); ok {
				if fields := strings.Fields(u); len(fields) > 0 {
					return fields[0]
				}
			}
		}
	}
	return "http://deb.debian.org/debian"
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// unmountUnder detaches every mount below dir that /proc/mounts lists
// (none where there is no /proc).
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			_ = exec.Command("umount", "-l", f[1]).Run()
		}
	}
}
