//go:build unix

package source_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/source"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scanRoot(t *testing.T, img source.Image) *scan.Result {
	t.Helper()
	res, err := scan.Run(context.Background(), img, scan.Options{Analyzers: []analyzer.Analyzer{keepFiles{}}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func hasWarning(ws []string, parts ...string) bool {
	return slices.ContainsFunc(ws, func(w string) bool {
		for _, p := range parts {
			if !strings.Contains(w, p) {
				return false
			}
		}
		return true
	})
}

// Entries that fail as they do on a live system (a file that cannot be
// opened, one that vanishes between listing and opening, a directory that
// cannot be listed) are warnings naming the path; the rest is scanned and
// the result is marked incomplete.
func TestRootFSUnreadableEntries(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/os-release":      "ID=debian\n",
		"etc/shadow":          "root:*:1::::::\n",
		"var/tmp/gone":        "here a moment ago",
		"srv/locked/a":        "a",
		"srv/locked/b":        "b",
		"usr/share/doc/after": "read after the failures",
	})
	if err := syscall.Mkfifo(filepath.Join(root, "run-fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	shadow := filepath.Join(root, "etc/shadow")
	gone := filepath.Join(root, "var/tmp/gone")
	locked := filepath.Join(root, "srv/locked")
	open := func(p string) (*os.File, error) {
		switch p {
		case shadow: // what a non-root scanner meets
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		case gone: // deleted by the running system while we walk
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		return os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	}
	readDir := func(p string) ([]fs.DirEntry, error) {
		if p == locked {
			return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return os.ReadDir(p)
	}
	img, err := source.OpenRootFSWithHooks(root, readDir, open)
	if err != nil {
		t.Fatal(err)
	}
	res := scanRoot(t, img)
	if !res.Incomplete {
		t.Error("result not marked incomplete")
	}
	for _, w := range [][]string{
		{shadow, "permission denied"},
		{gone, "no such file or directory"},
		{locked, "permission denied"},
	} {
		if !hasWarning(res.Warnings, w...) {
			t.Errorf("no warning %q in %q", w, res.Warnings)
		}
	}
	if len(res.Warnings) != 3 {
		t.Errorf("warnings %q, want one per unreadable entry", res.Warnings)
	}
	for _, p := range []string{"etc/os-release", "usr/share/doc/after"} {
		if _, ok := res.Files[p]; !ok {
			t.Errorf("%s not scanned", p)
		}
	}
	for _, p := range []string{"etc/shadow", "var/tmp/gone", "srv/locked/a"} {
		if res.View.Owner(p) >= 0 {
			t.Errorf("%s in the scanned tree", p)
		}
	}
	if res.View.Owner("run-fifo") < 0 {
		t.Error("the FIFO is not recorded")
	}
}

// A root whose proc, sys or dev are mount points is a live system: those
// are not entered, one informational warning says so, and the result is
// complete.
func TestRootFSSkipsPseudoFilesystems(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/os-release":   "ID=debian\n",
		"proc/1/environ":   "SECRET=from-a-process",
		"proc/self/status": "Name: customs",
		"sys/kernel/x":     "1",
		"dev/null":         "",
		"usr/proc/keep":    "not the top-level proc",
	})
	restore := source.SetMountPoints(filepath.Join(root, "proc"), filepath.Join(root, "sys"))
	defer restore()
	img, err := source.Open(context.Background(), root, &source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := scanRoot(t, img)
	if res.Incomplete {
		t.Error("skipping pseudo-filesystems marks the scan incomplete")
	}
	if len(res.Warnings) != 1 || !hasWarning(res.Warnings, "/proc, /sys not scanned") {
		t.Errorf("warnings %q", res.Warnings)
	}
	for p, want := range map[string]bool{"proc/1/environ": false, "proc/self/status": false, "sys/kernel/x": false,
		"dev/null": true, "usr/proc/keep": true, "etc/os-release": true} {
		if got := res.View.Owner(p) >= 0; got != want {
			t.Errorf("%s scanned: %v, want %v", p, got, want)
		}
	}
	// The host's own root: its proc, sys and dev are never entered.
	got := source.PseudoDirs("/")
	for _, d := range []string{"dev", "proc", "sys"} {
		if _, err := os.Stat("/" + d); err == nil && !slices.Contains(got, d) {
			t.Errorf("pseudo directories of / = %v, missing %s", got, d)
		}
	}
	// An ordinary directory has none.
	restore()
	if got := source.PseudoDirs(root); len(got) != 0 {
		t.Errorf("pseudo directories of a plain tree: %v", got)
	}
}

func TestParseMountInfo(t *testing.T) {
	const info = `22 1 0:21 / /proc rw,nosuid - proc proc rw
23 1 0:22 / /mnt/with\040space rw - tmpfs tmpfs rw
`
	m := source.ParseMountInfo(strings.NewReader(info))
	if !m["/proc"] || !m["/mnt/with space"] || len(m) != 2 {
		t.Errorf("mount points %v", m)
	}
}
