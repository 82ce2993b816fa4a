package imagecheck_test

import (
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer/imagecheck"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// debianSSHD is the sshd_config that Debian bookworm's openssh-server
// (1:9.2p1-2+deb12u10) installs, from /usr/share/openssh/sshd_config. Its
// first setting is `Include /etc/ssh/sshd_config.d/*.conf`, on line 12;
// it has 122 lines, so appended lines start at 123.
func debianSSHD(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/debian-bookworm-sshd_config")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Shadow lines: locked as debootstrap leaves root, a yescrypt hash as
// chpasswd writes it, and an empty password.
const (
	rootLocked = "root:*:19700:0:99999:7:::\n"
	appLocked  = "app:!:19700:0:99999:7:::\n"
	rootHash   = "root:$y$j9T$Qq0MYtP6Kf0mDgxV4vWTu/$3ZjJb7YzYQn2l5Q0lK8Pcd7Ue2o5Wv1Zx8Kq7cT2kD3:19700:0:99999:7:::\n"
	appHash    = "app:$y$j9T$Qq0MYtP6Kf0mDgxV4vWTu/$3ZjJb7YzYQn2l5Q0lK8Pcd7Ue2o5Wv1Zx8Kq7cT2kD3:19700:0:99999:7:::\n"
	appEmpty   = "app::19700:0:99999:7:::\n"
)

// sshdLines returns the sshd findings as "id@path:line:SEVERITY", with
// "[match]" appended for a Match block's finding.
func sshdLines(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		if !strings.HasPrefix(f.ID, "sshd-") {
			continue
		}
		s := f.ID + "@" + f.Path + ":" + strconv.Itoa(f.Line) + ":" + string(f.Severity)
		if f.Extra["match"] != "" {
			s += "[" + f.Extra["match"] + "]"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestSSHD(t *testing.T) {
	debian := debianSSHD(t)
	// sshdImage is the clean image with openssh's configuration, a shadow
	// file and the extra files.
	sshdImage := func(config, shadow string, extra ...testimage.Entry) image {
		im := clean()
		im.layers[0] = append(im.layers[0], testimage.File("etc/shadow", shadow))
		if config != "" {
			im.layers[0] = append(im.layers[0], testimage.File("etc/ssh/sshd_config", config),
				testimage.Dir("etc/ssh/sshd_config.d"))
		}
		im.layers[0] = append(im.layers[0], extra...)
		return im
	}
	dropIn := func(name, body string) testimage.Entry {
		return testimage.File("etc/ssh/sshd_config.d/"+name, body)
	}
	rootKey := testimage.File("root/.ssh/authorized_keys",
		"# deploy key\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJz4fJqk3Zr0Q8cPp5gS1mJ1yv3V0u7kq3bV4k2xW9aB deploy@ci\n")
	cases := []struct {
		name string
		im   image
		want []string
	}{
		{"stock Debian, every password locked", sshdImage(debian, rootLocked+appLocked), nil},
		{"stock Debian, app has a password: PasswordAuthentication defaults to yes",
			sshdImage(debian, rootLocked+appHash), []string{"sshd-password-authentication@etc/ssh/sshd_config:0:HIGH"}},
		{"stock Debian, only root has a password, which prohibit-password refuses",
			sshdImage(debian, rootHash+appLocked), nil},
		{"no sshd configuration, no sshd checks",
			sshdImage("", rootHash+appEmpty, rootKey), nil},
		{"drop-in PermitRootLogin no is read before the main file's yes",
			sshdImage(debian+"PermitRootLogin yes\n", rootHash+appLocked, dropIn("10-harden.conf", "# site policy\nPermitRootLogin no\n")), nil},
		{"drop-in PermitRootLogin yes wins over the main file's later no",
			sshdImage(debian+"PermitRootLogin no\n", rootHash+appLocked, dropIn("50-cloud.conf", "PermitRootLogin yes\n")),
			[]string{"sshd-password-authentication@etc/ssh/sshd_config:0:HIGH", "sshd-permit-root-login@etc/ssh/sshd_config.d/50-cloud.conf:1:HIGH"}},
		{"drop-ins are read in lexical order", sshdImage(debian, rootLocked+appLocked,
			dropIn("20-b.conf", "PermitRootLogin = no\n"), dropIn("10-a.conf", "permitrootlogin=yes\n"), dropIn("05-x.conf.disabled", "PermitRootLogin yes\n")),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config.d/10-a.conf:1:HIGH"}},
		{"PermitRootLogin yes in a file without Include",
			sshdImage("Port 22\n  PermitRootLogin yes # for the migration\nPermitRootLogin no\n", rootLocked+appLocked),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config:2:HIGH"}},
		{"root key with the default prohibit-password", sshdImage(debian, rootLocked+appLocked, rootKey),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config:0:MEDIUM"}},
		{"root key with explicit without-password", sshdImage("PermitRootLogin without-password\n", rootLocked+appLocked, rootKey),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config:1:MEDIUM"}},
		{"root key, PermitRootLogin no", sshdImage("PermitRootLogin no\n", rootLocked+appLocked, rootKey), nil},
		{"root key file with comments only", sshdImage(debian, rootLocked+appLocked, testimage.File("root/.ssh/authorized_keys", "# no keys\n\n")), nil},
		{"root key not in AuthorizedKeysFile", sshdImage("AuthorizedKeysFile /etc/ssh/keys/%u\n", rootLocked+appLocked, rootKey), nil},
		{"explicit PasswordAuthentication yes, no password anywhere", sshdImage(debian+"PasswordAuthentication yes\n", rootLocked+appLocked),
			[]string{"sshd-password-authentication@etc/ssh/sshd_config:123:LOW"}},
		{"PasswordAuthentication no", sshdImage("PasswordAuthentication no\n", rootLocked+appHash), nil},
		{"PasswordAuthentication no, but PAM asks for passwords (keyboard-interactive defaults to yes)",
			sshdImage("PasswordAuthentication no\nUsePAM yes\n", rootLocked+appHash),
			[]string{"sshd-password-authentication@etc/ssh/sshd_config:2:HIGH"}},
		{"PasswordAuthentication no, PAM, keyboard-interactive off by its old name first",
			sshdImage("ChallengeResponseAuthentication no\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\nUsePAM yes\n", rootLocked+appHash), nil},
		{"PermitRootLogin yes lets root's password count", sshdImage("PermitRootLogin yes\n", rootHash+appLocked),
			[]string{"sshd-password-authentication@etc/ssh/sshd_config:0:HIGH", "sshd-permit-root-login@etc/ssh/sshd_config:1:HIGH"}},
		{"PermitEmptyPasswords yes, no empty password", sshdImage("PermitEmptyPasswords yes\n", rootLocked+appLocked),
			[]string{"sshd-permit-empty-passwords@etc/ssh/sshd_config:1:HIGH"}},
		{"PermitEmptyPasswords yes and app has an empty password", sshdImage("PermitEmptyPasswords yes\n", rootLocked+appEmpty),
			[]string{"sshd-permit-empty-passwords@etc/ssh/sshd_config:1:CRITICAL"}},
		{"PermitEmptyPasswords yes, empty password, PasswordAuthentication no", sshdImage("PasswordAuthentication no\nPermitEmptyPasswords yes\n", rootLocked+appEmpty),
			[]string{"sshd-permit-empty-passwords@etc/ssh/sshd_config:2:HIGH"}},
		{"password in /etc/passwd itself", func() image {
			im := sshdImage(debian, rootLocked)
			im.layers = append(im.layers, []testimage.Entry{testimage.File("etc/passwd",
				"root:x:0:0:root:/root:/bin/bash\napp:$1$Zq1x5Q6a$0c3KX3c2o0o9n4rQn8YxS/:1000:1000::/home/app:/bin/sh\n")})
			return im
		}(), []string{"sshd-password-authentication@etc/ssh/sshd_config:0:HIGH"}},
		{"a later layer locks the password", func() image {
			im := sshdImage(debian, rootLocked+appHash)
			im.layers = append(im.layers, []testimage.Entry{testimage.File("etc/shadow", rootLocked+appLocked)})
			return im
		}(), nil},
		{"Match block does not decide the global verdict and is reported on its own", sshdImage(
			debian+"PermitRootLogin no\nMatch Address 10.0.0.0/8\n\tPermitRootLogin yes\n\tPasswordAuthentication no\nMatch User deploy\n\tPermitRootLogin yes\n",
			rootLocked+appHash),
			[]string{
				"sshd-password-authentication@etc/ssh/sshd_config:0:HIGH",
				"sshd-permit-root-login@etc/ssh/sshd_config:125:HIGH[Address 10.0.0.0/8]",
				"sshd-permit-root-login@etc/ssh/sshd_config:128:HIGH[User deploy]",
			}},
		{"Match block that only tightens is not reported", sshdImage(debian+"Match Group sftp\n\tPasswordAuthentication no\n", rootLocked+appHash),
			[]string{"sshd-password-authentication@etc/ssh/sshd_config:0:HIGH"}},
		{"Match in a drop-in ends with the drop-in", sshdImage(debian+"PermitRootLogin yes\n", rootLocked+appLocked,
			dropIn("10-sftp.conf", "Match User sftp\n  PermitRootLogin no\n")),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config:123:HIGH"}},
		{"Match all returns to the global context", sshdImage("Match User backup\n  PasswordAuthentication no\nMatch all\nPermitRootLogin yes\n", rootLocked+appLocked),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config:4:HIGH"}},
		{"Include of a file that is not in the image", sshdImage("Match Address 192.168.0.0/16\nInclude /etc/ssh/lan.conf\n", rootLocked+appLocked,
			testimage.File("etc/ssh/sshd_config.d/lan.conf", "PermitRootLogin yes\n")), nil},
		{"Include inside a Match block is conditional", sshdImage("Match Address 192.168.0.0/16\n Include sshd_config.d/lan.conf\n", rootLocked+appLocked,
			dropIn("lan.conf", "PermitRootLogin yes\n")),
			[]string{"sshd-permit-root-login@etc/ssh/sshd_config.d/lan.conf:1:HIGH[Address 192.168.0.0/16]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sshdLines(scanFindings(t, c.im, imagecheck.Options{}))
			want := append([]string(nil), c.want...)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestSSHDDetails: the findings say which setting decided, which accounts
// have passwords, where the root key is and which Match block applies.
func TestSSHDDetails(t *testing.T) {
	im := clean()
	im.layers[0] = append(im.layers[0],
		testimage.File("etc/ssh/sshd_config", debianSSHD(t)+"Match Address 10.0.0.0/8\n  PermitEmptyPasswords yes\n"),
		testimage.File("etc/shadow", rootLocked+appEmpty),
		testimage.File("root/.ssh/authorized_keys", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJz4fJqk3Zr0Q8cPp5gS1mJ1yv3V0u7kq3bV4k2xW9aB\n"))
	byID := map[string]model.Finding{}
	for _, f := range scanFindings(t, im, imagecheck.Options{}) {
		byID[f.ID] = f
	}
	root := byID["sshd-permit-root-login"]
	if root.Severity != model.Medium || root.Extra["authorized_keys"] != "root/.ssh/authorized_keys" ||
		root.Extra["setting"] != "PermitRootLogin prohibit-password (OpenSSH default: not set)" || root.Extra["cis"] != "5.6" {
		t.Errorf("root login finding %+v", root)
	}
	empty := byID["sshd-permit-empty-passwords"]
	if empty.Severity != model.Critical || empty.Extra["accounts"] != "app" || empty.Extra["match"] != "Address 10.0.0.0/8" ||
		empty.Extra["match_line"] != "etc/ssh/sshd_config:123" || empty.Extra["setting"] != "PermitEmptyPasswords yes" || empty.Line != 124 {
		t.Errorf("empty passwords finding %+v", empty)
	}
	if f, ok := byID["sshd-password-authentication"]; ok {
		t.Errorf("an empty password is not a usable one: %+v", f)
	}
}

// TestSSHDSkipAndLimits: the sshd checks honour --skip-checks, and a
// hostile configuration (an Include loop, thousands of drop-ins) ends.
func TestSSHDSkipAndLimits(t *testing.T) {
	im := clean()
	im.layers[0] = append(im.layers[0],
		testimage.File("etc/ssh/sshd_config", "Include sshd_config.d/*.conf\nInclude /etc/ssh/sshd_config /etc/ssh/sshd_config\nPermitRootLogin no\n"),
		testimage.File("etc/shadow", rootLocked+appHash))
	for i := range 100 {
		im.layers[0] = append(im.layers[0], testimage.File("etc/ssh/sshd_config.d/"+itoa(i+100)+".conf", "PermitRootLogin yes\n"))
	}
	all := scanFindings(t, im, imagecheck.Options{Skip: map[string]bool{"sshd-password-authentication": true}})
	got := sshdLines(all)
	want := []string{"sshd-permit-root-login@etc/ssh/sshd_config.d/100.conf:1:HIGH"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	cfg := imagecheck.ParseSSHD(map[string][]byte{"etc/ssh/sshd_config": []byte("Include sshd_config sshd_config\n")}, "etc/ssh/sshd_config")
	if !cfg.Truncated {
		t.Error("an Include loop did not truncate the configuration")
	}
}

func TestSSHDLine(t *testing.T) {
	for _, c := range []struct {
		line, kw string
		args     []string
	}{
		{"", "", nil},
		{"   # PermitRootLogin yes", "", nil},
		{"PermitRootLogin yes", "permitrootlogin", []string{"yes"}},
		{"\tPERMITROOTLOGIN\t=  yes  # comment", "permitrootlogin", []string{"yes"}},
		{"PermitRootLogin=no", "permitrootlogin", []string{"no"}},
		{`AuthorizedKeysFile ".ssh/my keys" %h/.ssh/k2`, "authorizedkeysfile", []string{".ssh/my keys", "%h/.ssh/k2"}},
		{`Banner a\ b#c 'd"e'`, "banner", []string{"a b#c", `d"e`}},
		{"Match User a,b Address 10.0.0.0/8\r", "match", []string{"User", "a,b", "Address", "10.0.0.0/8"}},
	} {
		kw, args := imagecheck.SSHDLine(c.line)
		if kw != c.kw || !slices.Equal(args, c.args) {
			t.Errorf("SSHDLine(%q) = %q %q, want %q %q", c.line, kw, args, c.kw, c.args)
		}
	}
}

func FuzzParseSSHD(f *testing.F) {
	f.Add([]byte("Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMatch User x\n PasswordAuthentication yes\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The input is both the main file and a drop-in, so Include loops
		// and fan-out are explored.
		files := map[string][]byte{"etc/ssh/sshd_config": b, "etc/ssh/sshd_config.d/a.conf": b, "etc/ssh/b.conf": b}
		cfg := imagecheck.ParseSSHD(files, "etc/ssh/sshd_config")
		if len(cfg.Matches) > 256 || len(cfg.Unresolved) > 32 {
			t.Fatalf("%d match blocks, %d unresolved includes", len(cfg.Matches), len(cfg.Unresolved))
		}
		// A value is cut to 100 bytes, then escaped (at most 4 bytes each).
		check := func(s imagecheck.SSHDSetting) {
			if s.Line < 1 || files[s.Path] == nil || len(s.Value) > 4*100+3 || strings.ContainsAny(s.Value, "\n\x00") {
				t.Fatalf("bad setting %+v", s)
			}
		}
		for _, s := range cfg.Global {
			check(s)
		}
		for _, m := range cfg.Matches {
			if m.Line < 1 || files[m.Path] == nil {
				t.Fatalf("bad match %+v", m)
			}
			for _, s := range m.Settings {
				check(s)
			}
		}
	})
}
