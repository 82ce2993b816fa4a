package shadow_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/testimage"
)

// TestMeasureGuessing times a full scan (every analyzer) of a debootstrap
// Debian root filesystem whose root and one user have strong passwords
// (yescrypt, written by chpasswd), with each guessing mode, then the quick
// scan again (answered by the memo). It only measures: run it with
// CUSTOMS_MEASURE_GUESSING=1 go test -run TestMeasureGuessing -v.
func TestMeasureGuessing(t *testing.T) {
	if os.Getenv("CUSTOMS_MEASURE_GUESSING") == "" {
		t.Skip("set CUSTOMS_MEASURE_GUESSING=1 to measure")
	}
	stock := testimage.Debootstrap(t)
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, c := range [][]string{
		{"", "cp", "-a", stock, root},
		{"root:Xq7#vLp2!mZr9wTe\n", "chroot", root, "chpasswd"},
		{"", "chroot", root, "useradd", "--no-create-home", "app"},
		{"app:Hn4$kPz8@rWq1yBc\n", "chroot", root, "chpasswd"},
	} {
		cmd := exec.Command(c[1], c[2:]...)
		cmd.Stdin = strings.NewReader(c[0])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c[1:], err, out)
		}
	}
	img := testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root))
	memo := t.TempDir()
	for _, mode := range []string{"off", "quick", "deep", "quick"} {
		cfg := all.Config{PasswordGuessing: mode, PasswordMemoDir: memo}
		las, err := all.Layer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ias, err := all.Image(cfg)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res := testimage.Scan(t, img, las, ias...)
		tried := map[string]string{}
		for _, f := range res.Findings {
			if f.ID == "shadow-usable-password" {
				tried[f.Match] = f.Extra["guesses_tried"]
			}
		}
		t.Logf("%-5s %6.2fs  guesses tried %v, incomplete %v, warnings %d", mode, time.Since(start).Seconds(), tried, res.Incomplete, len(res.Warnings))
	}
}
