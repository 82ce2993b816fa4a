package fsmeta_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/fsmeta"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// TestBusyboxApplets: Debian's static busybox has the telnetd applet and
// no ftpd or tftpd, as `busybox --list` says.
func TestBusyboxApplets(t *testing.T) {
	bin := testimage.RequireTool(t, "busybox")
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	applets := strings.Fields(string(out))
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.Exec("bin/busybox", body)))
	res := testimage.Scan(t, img, []analyzer.Analyzer{fsmeta.New(nil)})
	var got []string
	for _, f := range res.Findings {
		if f.Extra["applet"] != "" {
			got = append(got, f.Extra["applet"])
			if f.Path != "bin/busybox" || f.Severity != model.Medium {
				t.Errorf("finding %+v", f)
			}
		}
	}
	var want []string
	for _, a := range []string{"telnetd", "ftpd", "tftpd"} {
		if slices.Contains(applets, a) {
			want = append(want, a)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("applets found %v, busybox --list has %v", got, want)
	}
}

// TestLayers: a setuid file made plain in a later layer is reported as
// removed in the final image, and the skip list changes the cache key.
func TestLayers(t *testing.T) {
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.Entry{Path: "opt/tool", Mode: 0o4755, Type: '0'}),
		testimage.Layer(t, testimage.Entry{Path: "opt/tool", Mode: 0o755, Type: '0'}))
	res := testimage.Scan(t, img, []analyzer.Analyzer{fsmeta.New(nil)})
	if len(res.Findings) != 1 || res.Findings[0].ID != check.SetuidFile || !res.Findings[0].RemovedInFinal || res.Findings[0].Severity != model.High {
		t.Fatalf("findings %+v", res.Findings)
	}
	if fsmeta.New(nil).ConfigKey() == fsmeta.New(map[string]bool{check.SetuidFile: true, check.UserRoot: true}).ConfigKey() {
		t.Error("skipping a check fsmeta reports does not change its cache key")
	}
	if fsmeta.New(nil).ConfigKey() != fsmeta.New(map[string]bool{check.UserRoot: true}).ConfigKey() {
		t.Error("skipping an image-level check changes fsmeta's cache key")
	}
}

func FuzzApplets(f *testing.F) {
	f.Add([]byte("[\x00[[\x00telnet\x00telnetd\x00tftp\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := len(fsmeta.Applets(b)); n > 3 {
			t.Fatalf("%d applets", n)
		}
	})
}

func FuzzPreloadLibraries(f *testing.F) {
	f.Add([]byte("/lib/libhide.so # rootkit\n/usr/lib/x.so /usr/lib/y.so\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		libs := fsmeta.PreloadLibraries(b)
		if len(libs) > 32 {
			t.Fatalf("%d libraries", len(libs))
		}
		for _, l := range libs {
			if strings.ContainsAny(l, "\n\r\x00") {
				t.Fatalf("unprintable library name %q", l)
			}
		}
	})
}

// TestKeptSSHAndShadow: sshd's configuration and root's authorized keys
// are kept as they are, at most MaxSSHDDropIns drop-ins per layer, and
// etc/shadow only as password states, never its hashes.
func TestKeptSSHAndShadow(t *testing.T) {
	hash := "$y$j9T$Qq0MYtP6Kf0mDgxV4vWTu/$3ZjJb7YzYQn2l5Q0lK8Pcd7Ue2o5Wv1Zx8Kq7cT2kD3"
	entries := []testimage.Entry{
		testimage.File("etc/shadow", "root:*:19700:0:99999:7:::\napp:"+hash+":19700::::::\nguest::19700::::::\nold:!"+hash+":1::::::\n"),
		testimage.File("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n"),
		testimage.File("etc/ssh/ssh_host_ed25519_key", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
		testimage.File("root/.ssh/authorized_keys", "ssh-ed25519 AAAA root@host\n"),
		testimage.File("root/.ssh/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
	}
	for i := range fsmeta.MaxSSHDDropIns + 3 {
		entries = append(entries, testimage.File(fmt.Sprintf("etc/ssh/sshd_config.d/%03d.conf", i), "PermitRootLogin no\n"))
	}
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, entries...)), []analyzer.Analyzer{fsmeta.New(nil)})
	if got, want := string(res.Files["etc/shadow"]), "root:locked\napp:usable\nguest:empty\nold:locked\n"; got != want {
		t.Errorf("kept shadow %q, want %q", got, want)
	}
	states := fsmeta.ShadowStates(res.Files["etc/shadow"])
	if states["app"] != fsmeta.PasswordUsable || states["guest"] != fsmeta.PasswordEmpty || states["root"] != fsmeta.PasswordLocked {
		t.Errorf("states %v", states)
	}
	dropIns := 0
	for p, b := range res.Files {
		if strings.Contains(string(b), "$y$") || strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("%s kept with a secret: %q", p, b)
		}
		if strings.HasPrefix(p, "etc/ssh/sshd_config.d/") {
			dropIns++
		}
	}
	if dropIns != fsmeta.MaxSSHDDropIns || res.Files["etc/ssh/sshd_config"] == nil || res.Files["root/.ssh/authorized_keys"] == nil {
		t.Errorf("kept %d drop-ins, config %v, keys %v", dropIns, res.Files["etc/ssh/sshd_config"] != nil, res.Files["root/.ssh/authorized_keys"] != nil)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "more than 64 files in etc/ssh/sshd_config.d") }) {
		t.Errorf("no warning about the drop-ins left out: %v", res.Warnings)
	}
}
