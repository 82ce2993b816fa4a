package ownership_test

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/ownership"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// randomKey returns "AKIA" and 16 random characters of an AWS access key id.
func randomKey(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "AKIA" + string(b)
}

// TestAlpinePlanted: on Alpine's official minimal root filesystem, nothing
// is reported as a setuid program or a secret; a later layer's setuid
// program, busybox made setuid, a setuid copy of busybox under another
// name, an AWS key and a key added to a file apk installed all are.
func TestAlpinePlanted(t *testing.T) {
	base := testimage.AlpineMinirootfs(t)
	scanAll := func(layers ...v1.Layer) *scan.Result {
		return scanImage(t, testimage.Image(t, v1.Config{Cmd: []string{"/bin/sh"}}, layers...))
	}
	res := scanAll(base)
	if got := setidFindings(res); len(got) != 0 {
		t.Errorf("stock: setuid findings %v", got)
	}
	if got := byClass(res, model.ClassSecret); len(got) != 0 {
		t.Errorf("stock: secret findings %v", got)
	}

	files := testimage.LayerFiles(t, base, func(p string) bool { return p == "bin/busybox" || p == "etc/profile" })
	busybox, profile := string(files["bin/busybox"].Body), string(files["etc/profile"].Body)
	if len(busybox) < 100000 || !strings.Contains(profile, "PATH") {
		t.Fatalf("minirootfs: busybox %d bytes, profile %q", len(busybox), profile)
	}
	key := randomKey(t)
	res = scanAll(base, testimage.Layer(t,
		setuidExec("bin/busybox", busybox),
		setuidExec("usr/local/bin/bb", busybox),
		setuidExec("usr/local/bin/helper", "\x7fELF helper"),
		testimage.File("etc/profile", profile+"export API_TOKEN=\"q8Vn3Lx5Tz7Rk2Wm9Bc4Hy6Jd1Fs0Gp\"\n"),
		testimage.File("srv/app/.env", "AWS_ACCESS_KEY_ID="+key+"\n")))
	// A setuid busybox is a root shell for anyone, under its own name or
	// another; the helper is a program no package installed.
	want := []string{"bin/busybox:CRITICAL", "usr/local/bin/bb:CRITICAL", "usr/local/bin/helper:HIGH"}
	if got := setidFindings(res); !slices.Equal(got, want) {
		t.Errorf("planted: setuid findings %v, want %v", got, want)
	}
	for _, f := range res.Findings {
		switch {
		case f.ID != "setuid-file":
		case f.Path == "bin/busybox" && !strings.Contains(f.Extra["ownership"], "without the setuid"):
			t.Errorf("busybox: ownership %q", f.Extra["ownership"])
		case f.Path == "usr/local/bin/bb" && f.Extra["copy_of"] != "bin/busybox":
			t.Errorf("bb: copy_of %q, want bin/busybox", f.Extra["copy_of"])
		case f.Path == "usr/local/bin/helper" && f.Extra["copy_of"] != "":
			t.Errorf("helper: copy_of %q", f.Extra["copy_of"])
		}
	}
	secrets := byClass(res, model.ClassSecret)
	for _, p := range []string{"etc/profile", "srv/app/.env"} {
		if !slices.ContainsFunc(secrets, func(s string) bool { return strings.HasSuffix(s, "@"+p) }) {
			t.Errorf("planted secret in %s not found: %v", p, secrets)
		}
	}
	for _, f := range res.Findings {
		if f.Class == model.ClassSecret && f.Extra[model.ExtraOwner] != "" {
			t.Errorf("%s: a changed file marked as package content (%s)", f.Path, f.Extra[model.ExtraOwner])
		}
		if strings.Contains(f.Match, key) {
			t.Errorf("%s: the key is printed in full", f.Path)
		}
	}
	if res.Dropped[ownership.DroppedSetid] != 0 {
		t.Errorf("dropped %v: busybox is not setuid in Alpine's package", res.Dropped)
	}
}
