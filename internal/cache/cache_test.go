package cache

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/layer"
)

type named struct{ name string }

func (n named) Name() string                     { return n.name }
func (named) Version() int                       { return 1 }
func (named) Need(*analyzer.Entry) analyzer.Need { return analyzer.Skip }
func (named) Analyze(context.Context, *analyzer.File, *analyzer.Result) error {
	return nil
}

func TestKeyDependsOnTheBuild(t *testing.T) {
	as := []analyzer.Analyzer{named{"a"}}
	const diffID = "sha256:0000"
	if key("vcs:1", diffID, as, layer.Limits{}) == key("vcs:2", diffID, as, layer.Limits{}) {
		t.Fatal("two builds share a cache key")
	}
	if Key(diffID, as, layer.Limits{}) != key(BuildVersion(), diffID, as, layer.Limits{}) {
		t.Fatal("Key does not use the build version")
	}
}

// A test binary has no VCS information: its version must be its Go build
// ID, which changes whenever the code does.
func TestBuildVersionOfATestBinaryIsItsBuildID(t *testing.T) {
	v := BuildVersion()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Skipf("go tool buildid: %v", err) // the go command is not needed to run the tests
	}
	want := "buildid:" + strings.TrimSpace(string(out))
	if v != want {
		t.Errorf("BuildVersion() = %q, want %q", v, want)
	}
}

func TestOpenMakesPrivateDirectories(t *testing.T) {
	unixOnly(t)
	dir := filepath.Join(t.TempDir(), "a", "customs")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "layers")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %04o, want 0700", d, fi.Mode().Perm())
		}
	}
}

func TestOpenRefusesDirectoriesOthersMayWrite(t *testing.T) {
	unixOnly(t)
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "may be written by other users") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open of a world-writable directory: %v", err)
	}
	// A group-writable layers directory inside a private one is refused too.
	dir2 := t.TempDir()
	if err := os.Chmod(dir2, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir2, "layers"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir2, "layers"), 0o770); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir2); err == nil {
		t.Fatal("Open accepted a group-writable layers directory")
	}
}

func TestOpenRefusesAnotherUsersDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user needs root")
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "belongs to another user (uid 65534)") {
		t.Fatalf("Open of another user's directory: %v", err)
	}
}

func TestDefaultDirWithoutHomeIsPerUser(t *testing.T) {
	unixOnly(t) // the home directory comes from elsewhere on Windows
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	d := DefaultDir()
	want := filepath.Join(os.TempDir(), "customs-cache-"+strconv.Itoa(os.Getuid()))
	if d != want {
		t.Errorf("DefaultDir() = %q, want %q", d, want)
	}
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d := DefaultDir(); d != "/x/cache/customs" {
		t.Errorf("DefaultDir() = %q with XDG_CACHE_HOME", d)
	}
}

// unixOnly skips a test of Unix modes and owners elsewhere (Windows keeps
// the profile's cache private by its ACL).
func unixOnly(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("Unix permissions")
	}
}
