package imagecheck_test

import (
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// apkInstalled lists "name version" of every package in an apk installed
// database, read line by line as apk writes it (P: and V: of each stanza).
func apkInstalled(db []byte) []string {
	var out []string
	var name string
	for _, l := range strings.Split(string(db), "\n") {
		switch {
		case strings.HasPrefix(l, "P:"):
			name = l[2:]
		case strings.HasPrefix(l, "V:"):
			out = append(out, name+" "+l[2:])
		}
	}
	sort.Strings(out)
	return out
}

// apkPackages lists "name version" of the apk packages of a scan result.
func apkPackages(res *scan.Result) []string {
	var out []string
	for _, p := range res.Packages {
		if p.Type == "apk" {
			out = append(out, p.Name+" "+p.Version)
		}
	}
	sort.Strings(out)
	return out
}

// noSetIDOrSecret fails the test for any setuid/setgid or secret finding.
func noSetIDOrSecret(t *testing.T, res *scan.Result) {
	t.Helper()
	for _, f := range res.Findings {
		if f.ID == "setuid-file" || f.ID == "setgid-file" || f.Class == model.ClassSecret {
			t.Errorf("stock image: %s %s %s", f.ID, f.Path, f.Title)
		}
	}
}

// TestAlpineControl: Alpine's official minimal root filesystem (edge of
// 2026-08-05), as an image made today with no USER and no HEALTHCHECK,
// yields those two checks and nothing else, and every package its apk
// database lists.
func TestAlpineControl(t *testing.T) {
	layer := testimage.AlpineMinirootfs(t)
	res := scanLayers(t, layer)
	if res.OS == nil || res.OS.Family != "alpine" || !strings.HasPrefix(res.OS.Version, "3.25") {
		t.Fatalf("os = %+v, want alpine 3.25 (edge)", res.OS)
	}
	want := []string{"healthcheck-missing@config.Healthcheck", "user-root@config.User"}
	if got := ids(res.Findings); !slices.Equal(got, want) {
		t.Errorf("findings:\n got  %v\n want %v", got, want)
	}
	noSetIDOrSecret(t, res)
	files := testimage.LayerFiles(t, layer, func(p string) bool { return p == "lib/apk/db/installed" })
	db := apkInstalled(files["lib/apk/db/installed"].Body)
	if got := apkPackages(res); len(db) < 10 || !slices.Equal(got, db) {
		t.Errorf("packages:\n got  %v\n apk  %v", got, db)
	}
}

// TestAlpineWithPackages scans a real multi-layer `docker save` archive:
// Alpine 3.20 with bash and git added by apk in later layers. The packages
// are those of the last layer's apk database, each attributed to the layer
// that brought its version; there is no setuid or secret finding, and the
// configuration findings are the image's own.
func TestAlpineWithPackages(t *testing.T) {
	img, err := tarball.ImageFromPath(testimage.AlpineWithPackages(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := scanImage(t, img)
	if res.OS == nil || res.OS.Family != "alpine" || !strings.HasPrefix(res.OS.Version, "3.20") {
		t.Fatalf("os = %+v, want alpine 3.20", res.OS)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var dbs [][]string
	for _, l := range layers {
		files := testimage.LayerFiles(t, l, func(p string) bool { return p == "lib/apk/db/installed" })
		if f, ok := files["lib/apk/db/installed"]; ok {
			dbs = append(dbs, apkInstalled(f.Body))
		}
	}
	last := dbs[len(dbs)-1]
	if got := apkPackages(res); !slices.Equal(got, last) || !slices.Contains(got, "git 2.45.2-r0") {
		t.Errorf("packages:\n got  %v\n apk  %v", got, last)
	}
	base := dbs[0]
	for _, p := range res.Packages {
		inBase := slices.Contains(base, p.Name+" "+p.Version)
		if first := p.LayerDiffID == res.Layers[0].DiffID; first != inBase {
			t.Errorf("%s %s attributed to layer %s (in the base layer's database: %v)", p.Name, p.Version, p.LayerDiffID, inBase)
		}
	}
	noSetIDOrSecret(t, res)
	want := []string{
		"healthcheck-missing@config.Healthcheck",
		"history-pkg-upgrade@history[2]",                       // RUN apk upgrade
		"image-age@config.Created",                             // built in August 2024
		"os-eol@os",                                            // Alpine 3.20's support ended on 2026-04-01
		"package-cache@var/cache/apk/APKINDEX.e0297a25.tar.gz", // apk add without --no-cache
		"user-root@config.User",
	}
	if got := ids(res.Findings); !slices.Equal(got, want) {
		t.Errorf("findings:\n got  %v\n want %v", got, want)
	}
}

// TestAlpineSSHD: on Alpine's minirootfs, a later layer that installs an
// sshd configuration permitting root login with a password, and gives root
// one (SHA-512 crypt, made by openssl), is reported at the lines that
// decide, under sshd's first-match rule.
func TestAlpineSSHD(t *testing.T) {
	base := testimage.AlpineMinirootfs(t)
	stock := string(testimage.LayerFiles(t, base, func(p string) bool { return p == "etc/shadow" })["etc/shadow"].Body)
	out, err := exec.Command(testimage.RequireTool(t, "openssl"), "passwd", "-6", "s3cure-Enough").Output()
	if err != nil {
		t.Fatalf("openssl passwd: %v", err)
	}
	first, rest, _ := strings.Cut(stock, "\n")
	fields := strings.Split(first, ":")
	fields[1] = strings.TrimSpace(string(out))
	config := "# Alpine's openssh, then site settings\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPasswordAuthentication yes\nPermitRootLogin no\n"
	res := scanLayers(t, base, testimage.Layer(t,
		testimage.File("etc/shadow", strings.Join(fields, ":")+"\n"+rest),
		testimage.File("etc/ssh/sshd_config", config),
		testimage.File("etc/ssh/sshd_config.d/10-site.conf", "PasswordAuthentication no\n")))
	want := []string{"sshd-permit-root-login@etc/ssh/sshd_config:3:HIGH"}
	if got := sshdLines(res.Findings); !slices.Equal(got, want) {
		t.Errorf("sshd findings %v, want %v (10-site.conf's PasswordAuthentication no comes first)", got, want)
	}
}
