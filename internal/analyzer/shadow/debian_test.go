package shadow

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

func run(t *testing.T, stdin string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// TestDebianChpasswd sets a list password for root with Debian's own
// chpasswd (yescrypt, the bookworm default) and a password for a locked
// account, then scans the root filesystem as an image.
func TestDebianChpasswd(t *testing.T) {
	requireCrypt(t)
	stock := testimage.Debootstrap(t)
	root := filepath.Join(t.TempDir(), "rootfs")
	run(t, "", "cp", "-a", stock, root)
	run(t, "root:letmein\n", "chroot", root, "chpasswd")
	run(t, "", "chroot", root, "useradd", "--no-create-home", "svc")
	run(t, "svc:password\n", "chroot", root, "chpasswd")
	run(t, "", "chroot", root, "usermod", "--lock", "svc")

	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root))
	// The quick list, without its CPU bound: a loaded CI machine must
	// not make the test flaky (TestQuickBound checks the bound).
	res := testimage.Scan(t, img, []analyzer.Analyzer{New(Options{CPU: -1, Budget: slow, PerHash: slow})})
	got := map[string]model.Finding{}
	for _, f := range res.Findings {
		if f.Class == model.ClassSecret {
			got[f.ID+" "+f.Match] = f
		}
	}
	weak, ok := got["shadow-weak-password root:********"]
	if !ok || weak.Severity != model.Critical || weak.Path != "etc/shadow" || weak.Extra["hash_scheme"] != "yescrypt" || weak.RemovedInFinal ||
		weak.Extra["guess_list"] != "quick" || weak.Extra["guesses_tried"] == "" {
		t.Errorf("root's weak password: %+v (all: %v)", weak, got)
	}
	if _, ok := got["shadow-usable-password root:"]; !ok {
		t.Errorf("root's usable password not reported: %v", got)
	}
	for k := range got {
		if strings.Contains(k, "svc") {
			t.Errorf("locked account reported: %s", k)
		}
	}
	if len(got) != 2 {
		t.Errorf("findings: %v", got)
	}
}

// TestDebianStock is the clean control: every account of a stock Debian
// root filesystem is locked.
func TestDebianStock(t *testing.T) {
	root := testimage.Debootstrap(t)
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New(Options{})})
	for _, f := range res.Findings {
		t.Errorf("stock Debian: %s %s %s", f.ID, f.Path, f.Match)
	}
}
