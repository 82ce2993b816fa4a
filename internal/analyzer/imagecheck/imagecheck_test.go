package imagecheck_test

import (
	"archive/tar"
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/analyzer/fsmeta"
	"github.com/customs-scanner/customs/internal/analyzer/imagecheck"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/scan"
	"github.com/customs-scanner/customs/internal/testimage"
)

// now is the fixed clock of these tests.
var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const passwd = "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"
const group = "root:x:0:\napp:x:1000:\n"

// image describes a test image: its configuration, history and one layer
// per entry list.
type image struct {
	cfg     v1.Config
	history []string
	created time.Time
	layers  [][]testimage.Entry
	source  string
	input   string
	os      *model.OS
	pkgs    []model.Package
}

// clean is an image that no check fires on.
func clean() image {
	return image{
		cfg:     v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "/app", "-health"}}},
		history: []string{"COPY app /app # buildkit"},
		created: now.AddDate(0, 0, -10),
		layers: [][]testimage.Entry{{
			testimage.File("etc/passwd", passwd), testimage.File("etc/group", group),
			{Path: "tmp", Mode: 0o1777, Type: tar.TypeDir},
			{Path: "tmp/scratch", Mode: 0o666, Type: tar.TypeReg},
			testimage.Exec("app", []byte("#!/bin/sh\n")),
			{Path: "var/lib/apt/lists/lock", Mode: 0o640, Type: tar.TypeReg},
			testimage.File("etc/ld.so.preload", "# nothing preloaded\n"),
			testimage.File("etc/inetd.conf", "#telnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.telnetd\n"),
			testimage.File("etc/xinetd.d/tftp", "service tftp\n{\n\tdisable = yes\n\tserver = /usr/sbin/in.tftpd\n}\n"),
		}},
		source: "registry",
		input:  "registry.example.com/app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		os:     &model.OS{Family: "debian", Version: "12", Name: "Debian GNU/Linux 12 (bookworm)"},
	}
}

// findings scans im with the fsmeta layer analyzer and runs the image-level
// checks, returning every misconfiguration finding as "id@where".
func findings(t *testing.T, im image, opt imagecheck.Options) []string {
	t.Helper()
	return ids(scanFindings(t, im, opt))
}

// scanFindings scans im with the fsmeta layer analyzer and runs the
// image-level checks, returning the layer and image findings.
func scanFindings(t *testing.T, im image, opt imagecheck.Options) []model.Finding {
	t.Helper()
	var layers []v1.Layer
	for _, es := range im.layers {
		layers = append(layers, testimage.Layer(t, es...))
	}
	img := testimage.Image(t, im.cfg, layers...)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.History = nil
	for _, h := range im.history {
		cf.History = append(cf.History, v1.History{CreatedBy: h})
	}
	cf.Created = v1.Time{Time: im.created}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	res := testimage.Scan(t, img, []analyzer.Analyzer{fsmeta.New(opt.Skip)})
	opt.Now = func() time.Time { return now }
	got, err := imagecheck.New(opt).AnalyzeImage(context.Background(), imageOf(res, im))
	if err != nil {
		t.Fatal(err)
	}
	return append(res.Findings, got...)
}

func imageOf(res *scan.Result, im image) *analyzer.Image {
	return &analyzer.Image{
		Input: im.input, Name: im.input, Source: im.source, Config: res.Meta.Config,
		Layers: res.Layers, OS: im.os, Packages: im.pkgs, Files: res.Files,
		Exists: func(p string) bool { return res.View.Owner(p) >= 0 },
	}
}

func ids(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Class != model.ClassMisconfiguration {
			continue
		}
		where := f.Path
		if where == "" {
			where = f.Location
		}
		if f.Package != nil {
			where = "package:" + f.Package.Name
		}
		if f.Line > 0 {
			where += ":" + itoa(f.Line)
		}
		out = append(out, f.ID+"@"+where)
	}
	sort.Strings(out)
	return out
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestCleanImage(t *testing.T) {
	if got := findings(t, clean(), imagecheck.Options{}); len(got) != 0 {
		t.Fatalf("clean image: unexpected findings %v", got)
	}
}

// TestChecks runs each check on an image made to trigger it (want) and on
// a near-identical image that must not (the negative case's want is empty).
func TestChecks(t *testing.T) {
	with := func(f func(*image)) image { im := clean(); f(&im); return im }
	addFiles := func(es ...testimage.Entry) func(*image) {
		return func(im *image) { im.layers[0] = append(im.layers[0], es...) }
	}
	history := func(h ...string) func(*image) { return func(im *image) { im.history = h } }
	cases := []struct {
		name string
		im   image
		want []string
	}{
		{"no USER", with(func(im *image) { im.cfg.User = "" }), []string{"user-root@config.User"}},
		{"USER root", with(func(im *image) { im.cfg.User = "root" }), []string{"user-root@config.User"}},
		{"USER 0:0", with(func(im *image) { im.cfg.User = "0:0" }), []string{"user-root@config.User"}},
		{"USER resolving to UID 0", with(func(im *image) {
			im.cfg.User = "toor"
			im.layers = append(im.layers, []testimage.Entry{testimage.File("etc/passwd", passwd+"toor:x:0:0::/root:/bin/sh\n")})
		}), []string{"passwd-uid0@etc/passwd:3", "passwd-duplicate-uid@etc/passwd:3", "user-root@config.User"}},
		{"USER 1000:0 is not root", with(func(im *image) { im.cfg.User = "1000:0" }), nil},
		{"USER name unknown to passwd", with(func(im *image) { im.cfg.User = "nobody" }), nil},
		{"duplicate GID", with(addFiles(testimage.File("etc/group", group+"app2:x:1000:\n"))), []string{"group-duplicate-gid@etc/group:3"}},
		{"sshd and dropbear binaries", with(addFiles(testimage.Exec("usr/sbin/sshd", []byte("ELF")), testimage.Exec("usr/sbin/dropbear", []byte("ELF")))),
			[]string{"ssh-server@usr/sbin/dropbear", "ssh-server@usr/sbin/sshd"}},
		{"ssh client only", with(addFiles(testimage.Exec("usr/bin/ssh", []byte("ELF")))), nil},
		{"telnet daemons and busybox-extras applet link", with(addFiles(testimage.Exec("usr/sbin/in.telnetd", []byte("ELF")),
			testimage.Symlink("usr/sbin/telnetd", "/bin/busybox-extras"))),
			[]string{"telnet-server@usr/sbin/in.telnetd", "telnet-server@usr/sbin/telnetd"}},
		{"telnet client only", with(addFiles(testimage.Exec("usr/bin/telnet", []byte("ELF")))), nil},
		{"ftp, rsh and vnc servers", with(addFiles(testimage.Exec("usr/sbin/vsftpd", nil), testimage.Exec("usr/sbin/in.rshd", nil),
			testimage.Exec("usr/bin/Xtigervnc", nil), testimage.Exec("usr/sbin/xinetd", nil))),
			[]string{"ftp-server@usr/sbin/vsftpd", "inetd-installed@usr/sbin/xinetd", "remote-desktop-server@usr/bin/Xtigervnc", "rsh-server@usr/sbin/in.rshd"}},
		{"servers by package", with(func(im *image) {
			for _, n := range []string{"openssh-server", "inetutils-telnetd", "vsftpd", "rsh-server", "x11vnc", "xinetd", "sudo", "openssh-client", "telnet"} {
				im.pkgs = append(im.pkgs, model.Package{Name: n, Version: "1", Type: model.TypeDeb, Path: "var/lib/dpkg/status"})
			}
		}), []string{"ftp-server@package:vsftpd", "inetd-installed@package:xinetd", "remote-desktop-server@package:x11vnc",
			"rsh-server@package:rsh-server", "ssh-server@package:openssh-server", "sudo-installed@package:sudo", "telnet-server@package:inetutils-telnetd"}},
		{"inetd and xinetd services enabled", with(addFiles(
			testimage.File("etc/inetd.conf", "# comment\ntelnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.telnetd\n"),
			testimage.File("etc/xinetd.d/tftp", "service tftp\n{\n\tdisable = no\n}\n"),
			testimage.File("etc/xinetd.d/echo", "service echo\n{\n\ttype = INTERNAL\n}\nservice daytime\n{\n\tdisable\t= yes\n}\n"))),
			[]string{"inetd-service@etc/inetd.conf:2", "inetd-service@etc/xinetd.d/echo:1", "inetd-service@etc/xinetd.d/tftp:1"}},
		{"admin ports exposed", with(func(im *image) {
			im.cfg.ExposedPorts = map[string]struct{}{"22/tcp": {}, "2375/tcp": {}, "5900/tcp": {}, "8080/tcp": {}, "443/tcp": {}}
		}), []string{"admin-port-exposed@config.ExposedPorts[22/tcp]", "admin-port-exposed@config.ExposedPorts[2375/tcp]", "admin-port-exposed@config.ExposedPorts[5900/tcp]"}},
		{"sudo binary", with(addFiles(testimage.Entry{Path: "usr/bin/sudo", Mode: 0o4755, Type: tar.TypeReg})),
			[]string{"setuid-file@usr/bin/sudo", "sudo-installed@usr/bin/sudo"}},
		{"setuid shell and setgid tool", with(addFiles(testimage.Entry{Path: "bin/bash", Mode: 0o4755, Type: tar.TypeReg},
			testimage.Entry{Path: "usr/local/bin/tool", Mode: 0o2755, Type: tar.TypeReg, GID: 50})),
			[]string{"setgid-file@usr/local/bin/tool", "setuid-file@bin/bash"}},
		{"setgid directory is not a setgid file", with(addFiles(testimage.Entry{Path: "var/mail", Mode: 0o2775, Type: tar.TypeDir})), nil},
		{"world-writable file and directory", with(addFiles(testimage.Entry{Path: "etc/app.conf", Mode: 0o666, Type: tar.TypeReg},
			testimage.Entry{Path: "srv/shared", Mode: 0o777, Type: tar.TypeDir})),
			[]string{"world-writable@etc/app.conf", "world-writable@srv/shared"}},
		{"world-writable with sticky bit and symlinks", with(addFiles(testimage.Entry{Path: "srv/drop", Mode: 0o1777, Type: tar.TypeDir},
			testimage.Symlink("etc/alternatives/x", "/usr/bin/x"))), nil},
		{"ld.so.preload", with(addFiles(testimage.File("etc/ld.so.preload", "/lib/libhide.so\n"))), []string{"ld-so-preload@etc/ld.so.preload"}},
		{"package caches", with(addFiles(testimage.File("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "x"),
			testimage.File("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_Release", "x"),
			testimage.File("var/cache/apk/APKINDEX.abc.tar.gz", "x"))),
			[]string{"package-cache@var/cache/apk/APKINDEX.abc.tar.gz", "package-cache@var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"}},
		{"risky history", with(history(
			"/bin/sh -c #(nop) ADD file:0123abcd in / ",
			"/bin/sh -c #(nop) ADD dir:4567ef in /app ",
			"ADD https://example.com/tool.tar.gz /opt/ # buildkit",
			"RUN /bin/sh -c apt-get update # buildkit",
			"/bin/sh -c apt-get update && apt-get -y dist-upgrade",
			"RUN |1 V=1 /bin/sh -c curl -fsSL https://example.com/install.sh | sh -s -- -y # buildkit",
			"RUN /bin/sh -c chmod -R 777 /app # buildkit",
			"ADD app.py /app/ # buildkit",
		)), []string{"history-add-local@history[1]", "history-add-local@history[7]", "history-add-remote@history[2]", "history-chmod-777@history[6]",
			"history-pipe-to-shell@history[5]", "history-pkg-upgrade@history[4]", "history-update-alone@history[3]"}},
		{"careful history", with(history(
			"ADD alpine-minirootfs-3.19.1-x86_64.tar.gz / # buildkit",
			"RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* # buildkit",
			"RUN /bin/sh -c curl -fsSLo /tmp/install.sh https://example.com/install.sh && sha256sum -c sums && sh /tmp/install.sh # buildkit",
			"RUN /bin/sh -c chmod 1777 /scratch && chmod 755 /app # buildkit",
			"COPY . /app # buildkit",
		)), nil},
		{"no HEALTHCHECK", with(func(im *image) { im.cfg.Healthcheck = nil }), []string{"healthcheck-missing@config.Healthcheck"}},
		{"HEALTHCHECK NONE", with(func(im *image) { im.cfg.Healthcheck = &v1.HealthConfig{Test: []string{"NONE"}} }), []string{"healthcheck-missing@config.Healthcheck"}},
		{"sensitive volumes", with(func(im *image) {
			im.cfg.Volumes = map[string]struct{}{"/etc": {}, "/var/run/docker.sock": {}, "/data": {}, "/": {}}
		}), []string{"sensitive-volume@config.Volumes[/]", "sensitive-volume@config.Volumes[/etc]", "sensitive-volume@config.Volumes[/var/run/docker.sock]"}},
		{"tag latest", with(func(im *image) { im.input = "registry.example.com:5000/team/app" }), []string{"tag-latest@input"}},
		{"explicit tag latest from docker", with(func(im *image) { im.source, im.input = "docker", "app:latest" }), []string{"tag-latest@input"}},
		{"tag without digest", with(func(im *image) { im.input = "registry.example.com:5000/team/app:1.2" }), []string{"tag-unpinned@input"}},
		{"archive source has no tag", with(func(im *image) { im.source, im.input = "docker-archive", "./app.tar" }), nil},
		{"end-of-life Debian", with(func(im *image) {
			im.os = &model.OS{Family: "debian", Version: "10", Name: "Debian GNU/Linux 10 (buster)"}
		}), []string{"os-eol@os"}},
		{"end-of-life Alpine", with(func(im *image) { im.os = &model.OS{Family: "alpine", Version: "3.19.1"} }), []string{"os-eol@os"}},
		{"supported Ubuntu and Alpine", with(func(im *image) { im.os = &model.OS{Family: "ubuntu", Version: "24.04"} }), nil},
		{"old image", with(func(im *image) { im.created = now.AddDate(-2, 0, 0) }), []string{"image-age@config.Created"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := findings(t, c.im, imagecheck.Options{})
			want := append([]string(nil), c.want...)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

func TestSkipAndAge(t *testing.T) {
	im := clean()
	im.cfg.User = ""
	im.created = now.AddDate(0, 0, -100)
	im.layers[0] = append(im.layers[0], testimage.Entry{Path: "usr/bin/sudo", Mode: 0o4755, Type: tar.TypeReg})
	got := findings(t, im, imagecheck.Options{Skip: map[string]bool{check.UserRoot: true, check.SetuidFile: true}, MaxImageAgeDays: 30})
	want := []string{"image-age@config.Created", "sudo-installed@usr/bin/sudo"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := check.ParseSkip([]string{"user-root", "no-such-check"}); err == nil {
		t.Error("ParseSkip accepted an unknown id")
	}
}

func TestEOLFindingSaysWhichDate(t *testing.T) {
	im := clean()
	im.os = &model.OS{Family: "debian", Version: "10", Name: "Debian GNU/Linux 10 (buster)"}
	res := testimage.Scan(t, testimage.Image(t, im.cfg, testimage.Layer(t, im.layers[0]...)), nil)
	fs, err := imagecheck.New(imagecheck.Options{Now: func() time.Time { return now }}).AnalyzeImage(context.Background(), imageOf(res, im))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.ID == check.OSEndOfLife {
			// Debian 10 LTS ended on 2024-06-30 (https://wiki.debian.org/LTS).
			if f.Extra["eol_date"] != "2024-06-30" || !strings.Contains(f.Title, "2024-06-30") || f.Severity != model.High {
				t.Errorf("eol finding %+v", f)
			}
			return
		}
	}
	t.Fatal("no os-eol finding")
}

// TestHistoryADD: ADD of a URL is MEDIUM, LOW when --checksum pins it; ADD
// of a local file or directory where COPY would do is LOW; ADD of a local
// archive, which only ADD extracts, and the classic builder's
// "file:<digest>" (a base image's root filesystem tarball, or a file it
// cannot tell from one) are not reported. Both the classic builder's and
// BuildKit's history forms.
func TestHistoryADD(t *testing.T) {
	im := clean()
	im.history = []string{
		"/bin/sh -c #(nop) ADD file:5d6b639e8b6bcc01122b4d3e7ef0d3cd7c1d5e7d31b5b3a0ab4d9a5d5d3a2b1c in / ",
		"/bin/sh -c #(nop) ADD dir:4567ef0123 in /app ",
		"/bin/sh -c #(nop) ADD --chown=app:app file:0a1b2c3d in /etc/app.conf ",
		"/bin/sh -c #(nop) ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini in /tini ",
		"ADD https://example.com/tool.tar.gz /opt/ # buildkit",
		"ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool.tar.gz /opt/ # buildkit",
		"ADD --chmod=755 app.py config.yaml /app/ # buildkit",
		"ADD alpine-minirootfs-3.19.1-x86_64.tar.gz / # buildkit",
		`ADD ["https://example.com/a b.txt", "/data/"] # buildkit`,
		"ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.12.0 /src # buildkit",
		"COPY --from=build /out/app /app # buildkit",
	}
	var got []string
	for _, f := range scanFindings(t, im, imagecheck.Options{}) {
		if strings.HasPrefix(f.ID, "history-add") {
			got = append(got, f.Location+" "+f.ID+" "+string(f.Severity)+" "+f.Extra["source"])
			if (f.Extra["checksum"] != "") != (f.Location == "history[5]") || f.Extra["cis"] != "4.9" {
				t.Errorf("%s: details %v", f.Location, f.Extra)
			}
		}
	}
	want := []string{
		"history[1] history-add-local LOW dir:4567ef0123",
		"history[3] history-add-remote MEDIUM https://github.com/krallin/tini/releases/download/v0.19.0/tini",
		"history[4] history-add-remote MEDIUM https://example.com/tool.tar.gz",
		"history[5] history-add-remote LOW https://example.com/tool.tar.gz",
		"history[6] history-add-local LOW app.py",
		"history[8] history-add-remote MEDIUM https://example.com/a b.txt",
		"history[9] history-add-remote MEDIUM https://github.com/moby/buildkit.git#v0.12.0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
	}
}
