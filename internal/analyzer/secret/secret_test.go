package secret

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// token returns n characters from alphabet, random, so no allowlist of
// documentation examples can hide them.
func token(t *testing.T, alphabet string, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum       = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// rsaPEM returns a fresh PKCS#1 RSA private key in PEM and the first four
// base64 characters of its body.
func rsaPEM(t *testing.T) (string, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der := x509.MarshalPKCS1PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})), base64.StdEncoding.EncodeToString(der)[:4]
}

// sshKey makes an OpenSSH key with ssh-keygen; pass "" for no passphrase.
func sshKey(t *testing.T, pass string) string {
	t.Helper()
	testimage.RequireTool(t, "ssh-keygen")
	p := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", pass, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// encryptedPKCS8 makes a passphrase-protected key with openssl.
func encryptedPKCS8(t *testing.T) string {
	t.Helper()
	testimage.RequireTool(t, "openssl")
	out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:hunter22").Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	return string(out)
}

func genPutty(t *testing.T, encrypted bool) string {
	t.Helper()
	testimage.RequireTool(t, "puttygen")
	dir := t.TempDir()
	args := []string{"-q", "-t", "ed25519", "-o", filepath.Join(dir, "k.ppk")}
	pass := ""
	if encrypted {
		pass = "hunter22\n"
	}
	pf := filepath.Join(dir, "pass")
	if err := os.WriteFile(pf, []byte(pass), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, "--new-passphrase", pf)
	if out, err := exec.Command("puttygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("puttygen: %v %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "k.ppk"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type want struct {
	id, path string
	line     int
	// match is the expected redacted match ("" when none).
	match   string
	removed bool
}

// TestFixtures plants one secret of every category in an image, one of them
// in a file that a later layer deletes, and checks each finding's rule,
// path, line, layer and redaction.
func TestFixtures(t *testing.T) {
	aws := "AKIA" + token(t, upperDigits, 16)
	awsSecret := token(t, alnum, 40)
	ghp := "ghp_" + token(t, alnum, 36)
	dbPass := "Zq" + token(t, alnum, 14)
	npm := "npm_" + token(t, alnum, 36)
	pypi := token(t, alnum, 20)
	netrc := token(t, alnum, 16)
	kubeTok := token(t, alnum, 40)
	envPass := token(t, alnum, 18)
	gitPass := token(t, alnum, 20)
	dockerAuth := base64.StdEncoding.EncodeToString([]byte("ci:" + token(t, alnum, 20)))
	rsaKey, rsaHead := rsaPEM(t)
	ssh := sshKey(t, "")
	sshEnc := sshKey(t, "correct horse")
	sshBody := strings.Join(strings.Split(ssh, "\n")[1:], "")[:4]

	layer0 := []testimage.Entry{
		testimage.File("app/config.yaml", "server:\n  port: 8080\ndatabase:\n  url: postgres://app:"+dbPass+"@db.internal:5432/app\n"),
		testimage.File("app/deploy.sh", "#!/bin/sh\nexport GITHUB_TOKEN="+ghp+"\n"),
		testimage.File("root/.aws/credentials", "[default]\naws_access_key_id = "+aws+"\naws_secret_access_key = "+awsSecret+"\n"),
		testimage.File("root/.ssh/id_ed25519", ssh),
		testimage.File("root/.ssh/id_enc", sshEnc),
		testimage.File("etc/ssl/private/server.key", rsaKey),
		testimage.File("etc/ssl/private/enc.key", encryptedPKCS8(t)),
		testimage.File("root/.docker/config.json", `{"auths":{"registry.example.com":{"auth":"`+dockerAuth+`"}}}`),
		testimage.File("root/.git-credentials", "https://ci:"+gitPass+"@git.example.com\n"),
		testimage.File("home/dev/.npmrc", "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken="+npm+"\n"),
		testimage.File("home/dev/.pypirc", "[pypi]\nusername = __token__\npassword = "+pypi+"\n"),
		testimage.File("home/dev/.netrc", "machine ftp.example.com login dev password "+netrc+"\n"),
		testimage.File("root/.kube/config", "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: admin\n  user:\n    token: "+kubeTok+"\n"),
		testimage.File("srv/app/.env", "# settings\nAPP_PORT=3000\nDB_PASSWORD="+envPass+"\n"),
		testimage.File("srv/app/.env.example", "DB_PASSWORD=changeme\n"),
		testimage.File("root/.bash_history", "ls\ncd /srv\n"),
		testimage.File("opt/app/keystore.jks", "\xfe\xed\xfe\xed\x00\x00\x00\x02"),
		testimage.File("usr/share/doc/app/README", "curl https://user:"+dbPass+"@example.com\n"),
		testimage.File("app/node_modules/x/test.js", "const t = '"+ghp+"'\n"),
	}
	layer1 := []testimage.Entry{testimage.Whiteout("app/deploy.sh")}
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t, layer0...), testimage.Layer(t, layer1...))
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := testimage.Scan(t, img, []analyzer.Analyzer{a})
	cf, _ := img.ConfigFile()
	layer0ID := cf.RootFS.DiffIDs[0].String()

	wants := []want{
		{"url-credentials", "app/config.yaml", 4, dbPass[:4] + "********", false},
		{"github-pat", "app/deploy.sh", 2, ghp[:4] + "********", true},
		{"aws-access-token", "root/.aws/credentials", 2, aws[:4] + "********", false},
		{"aws-credentials-file", "root/.aws/credentials", 3, awsSecret[:4] + "********", false},
		{"private-key", "root/.ssh/id_ed25519", 1, sshBody + "********", false},
		{"private-key", "etc/ssl/private/server.key", 1, rsaHead + "********", false},
		{"docker-config-auth", "root/.docker/config.json", 1, dockerAuth[:4] + "********", false},
		{"git-credentials", "root/.git-credentials", 1, gitPass[:4] + "********", false},
		{"npmrc-token", "home/dev/.npmrc", 2, npm[:4] + "********", false},
		{"pypirc-password", "home/dev/.pypirc", 3, pypi[:4] + "********", false},
		{"netrc-password", "home/dev/.netrc", 1, netrc[:4] + "********", false},
		{"kubeconfig-credentials", "root/.kube/config", 7, kubeTok[:4] + "********", false},
		{"env-file-secret", "srv/app/.env", 3, envPass[:4] + "********", false},
		{"env-file", "srv/app/.env", 2, "", false},
		{"shell-history", "root/.bash_history", 0, "", false},
		{"keystore-file", "opt/app/keystore.jks", 0, "", false},
	}
	got := map[string]model.Finding{}
	for _, f := range res.Findings {
		if f.Class != model.ClassSecret {
			continue
		}
		k := f.ID + " " + f.Path
		if _, dup := got[k]; dup {
			t.Errorf("duplicate finding %s", k)
		}
		got[k] = f
	}
	for _, w := range wants {
		k := w.id + " " + w.path
		f, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		delete(got, k)
		if f.Line != w.line || f.Match != w.match || f.RemovedInFinal != w.removed || f.LayerDiffID != layer0ID || f.Severity == "" || f.Title == "" {
			t.Errorf("%s: got line %d match %q removed %v layer %s sev %s; want line %d match %q removed %v layer %s",
				k, f.Line, f.Match, f.RemovedInFinal, f.LayerDiffID, f.Severity, w.line, w.match, w.removed, layer0ID)
		}
		for _, secret := range []string{dbPass, ghp, aws, awsSecret, npm, pypi, netrc, kubeTok, envPass, gitPass, dockerAuth} {
			if strings.Contains(f.Match, secret) || strings.Contains(f.Title, secret) {
				t.Errorf("%s: secret shown in %q / %q", k, f.Match, f.Title)
			}
		}
	}
	// Encrypted keys, the example .env, documentation and node_modules are
	// not findings; neither is anything else.
	for k, f := range got {
		t.Errorf("unexpected finding %s line %d: %s %q", k, f.Line, f.Title, f.Match)
	}
}

func TestShowSecrets(t *testing.T) {
	ghp := "ghp_" + token(t, alnum, 36)
	a, err := New(Options{ShowSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	var r analyzer.Result
	content := []byte("token: " + ghp + "\n")
	if err := a.Analyze(t.Context(), &analyzer.File{Entry: analyzer.Entry{Path: "app/x.yml", Size: int64(len(content))}, Content: content}, &r); err != nil {
		t.Fatal(err)
	}
	// The engine reuses its buffer: the finding must not share it.
	for i := range content {
		content[i] = 'x'
	}
	if len(r.Findings) != 1 || r.Findings[0].Match != ghp {
		t.Fatalf("findings %+v", r.Findings)
	}
	plain, _ := New(Options{})
	if a.ConfigKey() == plain.ConfigKey() {
		t.Error("config key ignores ShowSecrets")
	}
}

func TestPuTTY(t *testing.T) {
	plain, enc := genPutty(t, false), genPutty(t, true)
	if got := privateKeys([]byte(plain)); len(got) != 1 || got[0].Kind != "PuTTY" {
		t.Errorf("unencrypted PuTTY key: %+v", got)
	}
	if got := privateKeys([]byte(enc)); len(got) != 0 {
		t.Errorf("encrypted PuTTY key reported: %+v", got)
	}
}

// TestSecretConfig adds a rule and allowlists a path and a value.
func TestSecretConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "secrets.toml")
	os.WriteFile(cfg, []byte(`
[[rules]]
id = "acme-internal-token"
description = "ACME internal token"
regex = '''acme_[a-z0-9]{24}'''
keywords = ["acme_"]
tags = ["critical"]

[[allowlists]]
paths = ['''^opt/fixtures/''']
regexes = ['''acme_0{24}''']
`), 0o644)
	a, err := New(Options{ConfigPath: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tok := "acme_" + strings.ToLower(token(t, "abcdefghijklmnopqrstuvwxyz0123456789", 24))
	check := func(path, body string) []model.Finding {
		e := &analyzer.Entry{Path: path, Mode: 0o644, Size: int64(len(body))}
		if a.Need(e) == analyzer.Skip {
			return nil
		}
		var r analyzer.Result
		if err := a.Analyze(t.Context(), &analyzer.File{Entry: *e, Content: []byte(body)}, &r); err != nil {
			t.Fatal(err)
		}
		return r.Findings
	}
	if fs := check("app/settings.ini", "x = "+tok+"\n"); len(fs) != 1 || fs[0].ID != "acme-internal-token" || fs[0].Severity != model.Critical {
		t.Errorf("custom rule: %+v", fs)
	}
	if fs := check("opt/fixtures/a.ini", "x = "+tok+"\n"); len(fs) != 0 {
		t.Errorf("allowlisted path: %+v", fs)
	}
	if fs := check("app/settings.ini", "x = acme_"+strings.Repeat("0", 24)+"\n"); len(fs) != 0 {
		t.Errorf("allowlisted value: %+v", fs)
	}
	plain, _ := New(Options{})
	if a.ConfigKey() == plain.ConfigKey() {
		t.Error("config key ignores the configuration file")
	}
	os.WriteFile(cfg, []byte("[[rules]]\nid = \"bad\"\nregex = '''(['''\n"), 0o644)
	if _, err := New(Options{ConfigPath: cfg}); err == nil {
		t.Error("invalid regex accepted")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"ghp_abcdefghijkl": "ghp_********",
		"abcdef":           "ab********",
		"ab":               "********",
		"":                 "********",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for k, want := range map[string]bool{
		"DB_PASSWORD": true, "API_TOKEN": true, "AWS_SECRET_ACCESS_KEY": true, "SIGNING_KEY": true,
		"PASSWORD_FILE": false, "GPG_KEY": false, "PUBLIC_KEY": false, "TOKEN_URL": false, "PATH": false,
	} {
		if SensitiveKey(k) != want {
			t.Errorf("SensitiveKey(%s) = %v", k, !want)
		}
	}
}

func FuzzPrivateKeys(f *testing.F) {
	f.Add([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n"))
	f.Add([]byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range privateKeys(b) {
			if k.Kind == "" {
				t.Fatal("empty kind")
			}
		}
	})
}

func FuzzSensitiveFile(f *testing.F) {
	for _, p := range []string{"root/.docker/config.json", "root/.kube/config", "app/.env", "home/u/.netrc", "home/u/.npmrc", "root/.aws/credentials"} {
		f.Add(p, []byte(`{"auths":{"h":{"auth":"eDp5"}}}`+"\nkind: Config\nusers:\n token: abcdefgh12\nA_TOKEN=xyz12345\n"))
	}
	f.Fuzz(func(t *testing.T, p string, b []byte) {
		for _, h := range sensitiveFile(p, int64(len(b)), b) {
			if h.ID == "" || h.Title == "" {
				t.Fatalf("bad hit %+v", h)
			}
		}
	})
}

func ExampleRedact() {
	fmt.Println(Redact("ghp_0123456789abcdef"))
	// Output: ghp_********
}
