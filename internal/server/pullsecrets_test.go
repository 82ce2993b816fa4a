package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// writeSecret writes a Docker config as a mounted Secret volume does:
// DIR/<namespace>/<name>/..<timestamp>/<file>, a ..data symbolic link to
// that directory and <file> a symbolic link through ..data.
func writeSecret(t *testing.T, dir, namespace, name, file string, data []byte) {
	t.Helper()
	sec := filepath.Join(dir, namespace, name)
	ts := "..2026_12_03_10_00_00.123456789"
	if err := os.MkdirAll(filepath.Join(sec, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sec, ts, file), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ts, filepath.Join(sec, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", file), filepath.Join(sec, file)); err != nil {
		t.Fatal(err)
	}
}

// dockerConfig is a .dockerconfigjson with one entry.
func dockerConfig(t *testing.T, key string, entry map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": map[string]any{key: entry}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPullSecrets: an image of a registry with authentication is
// resolved and scanned on demand with the credentials of the pull secret
// its pod names (the first with an entry for the registry), mounted as a
// Secret volume, and denied on its findings; the credentials are in the
// queue's database sealed only. In a namespace without that secret, or
// naming none, the image cannot be resolved and the pod is denied. A
// server without a secret key resolves with the pull secret but does not
// scan on demand, and says why.
func TestPullSecrets(t *testing.T) {
	const user, password = "puller", "Pull-Secret-Pw-7731"
	reg := authRegistry(t, user, password)
	private, other := reg+"/team/private:1", reg+"/team/other:1"
	pushAuth(t, private, user, password, vulnerableImage(t, "pull secrets"))
	pushAuth(t, other, user, password, cleanImage(t, "pull secrets"))

	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	writeSecret(t, dir, "prod", "elsewhere", dockerConfigJSON, dockerConfig(t, "https://registry.example.com/v1/", map[string]string{"auth": "eDp5"}))
	writeSecret(t, dir, "prod", "regcred", dockerConfigJSON, dockerConfig(t, "http://"+reg+"/", map[string]string{"auth": auth}))
	legacy, err := json.Marshal(map[string]any{reg: map[string]string{"username": user, "password": password}})
	if err != nil {
		t.Fatal(err)
	}
	writeSecret(t, dir, "ci", "legacy", dockerCfg, legacy)
	policy := strings.Replace(admissionPolicy, "unscanned:\n", "unscanned:\n  scan-on-demand: true\n  timeout: 50s\n", 1)
	pod := func(image string, secrets ...string) any {
		spec := corev1.PodSpec{Containers: containers(image)}
		for _, s := range secrets {
			spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		return workloads(spec)[0].obj
	}
	eachStore(t, func(t *testing.T, dsn string) {
		cfg := harborConfig(t, dsn)
		cfg.Admission.Timeout = time.Minute
		cfg.Admission.PullSecretsDir = dir
		ts := startAdmissionWith(t, cfg, reg, policy)

		resp := ts.admit(t, "", "Pod", "prod", pod(private, "missing", "elsewhere", "regcred"))
		if resp.Allowed || !strings.Contains(resp.Result.Message, "rule glibc") || !strings.Contains(resp.Result.Message, "CVE-2023-4911") {
			t.Errorf("with the pull secret: %+v", resp.Result)
		}
		var args string
		if err := ts.store.QueryRow(context.Background(), `SELECT CAST(args AS TEXT) FROM river_job WHERE CAST(args AS TEXT) LIKE ?`, "%team/private%").Scan(&args); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(args, password) || strings.Contains(args, auth) || !strings.Contains(args, "auth_id") {
			t.Errorf("job args hold the credentials in clear or not at all: %s", args)
		}
		if resp := ts.admit(t, "", "Pod", "ci", pod(other, "legacy")); !resp.Allowed {
			t.Errorf("with a legacy .dockercfg pull secret: %+v", resp.Result)
		}
		for _, c := range []struct {
			namespace string
			secrets   []string
		}{{"staging", []string{"regcred"}}, {"prod", nil}, {"prod", []string{"elsewhere"}}, {"prod", []string{"../prod/regcred"}}} {
			resp := ts.admit(t, "", "Pod", c.namespace, pod(private, c.secrets...))
			if resp.Allowed || !strings.Contains(resp.Result.Message, "could not be resolved") {
				t.Errorf("namespace %s, secrets %v: %+v", c.namespace, c.secrets, resp.Result)
			}
			if strings.Contains(resp.Result.Message, password) || strings.Contains(resp.Result.Message, auth) {
				t.Errorf("the message shows the credentials: %s", resp.Result.Message)
			}
		}
	})

	cfg := newConfig(t.TempDir(), "")
	cfg.Admission.Timeout = time.Minute
	cfg.Admission.PullSecretsDir = dir
	ts := startAdmissionWith(t, cfg, reg, policy)
	resp := ts.admit(t, "", "Pod", "prod", pod(other, "regcred"))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "rule unscanned") || !strings.Contains(resp.Result.Message, "--secret-key-file") {
		t.Errorf("no secret key: %+v", resp.Result)
	}
}

// TestPullSecretFiles: a secret read never leaves its own directory
// (symbolic links out of it, absolute or relative, are refused), is
// bounded in size, and names that are not Kubernetes names are not
// looked up.
func TestPullSecretFiles(t *testing.T) {
	dir := t.TempDir()
	good := dockerConfig(t, "reg.example.com", map[string]string{"username": "u", "password": "p"})
	outside := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(outside, good, 0o600); err != nil {
		t.Fatal(err)
	}
	mk := func(ns, name string) string {
		d := filepath.Join(dir, ns, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if err := os.Symlink(outside, filepath.Join(mk("ns", "absolute"), dockerConfigJSON)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mk("ns", "sibling"), "cfg"), good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../sibling/cfg", filepath.Join(mk("ns", "relative"), dockerConfigJSON)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mk("ns", "huge"), dockerConfigJSON), append(good, make([]byte, maxPullSecretBytes)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(dir, "ns", "linked")); err != nil {
		t.Fatal(err)
	}
	writeSecret(t, dir, "ns", "mounted", dockerConfigJSON, good)
	s := &Server{cfg: Config{Admission: AdmissionConfig{PullSecretsDir: dir}}}
	for _, name := range []string{"absolute", "relative", "huge", "linked"} {
		if c, _, ok, err := s.pullSecretCredentials("ns", []string{name}, "reg.example.com", "a/b"); ok || err == nil {
			t.Errorf("secret %s: read %v, %v", name, ok, err != nil || c.Password != "")
		}
	}
	if c, name, ok, err := s.pullSecretCredentials("ns", []string{"nothing", "mounted"}, "reg.example.com", "a/b"); err != nil || !ok || name != "mounted" || c.Username != "u" || c.Password != "p" {
		t.Errorf("mounted secret: %v %v %s %v", err, ok, name, c.Username)
	}
	for _, ns := range []string{"..", "ns/..", "NS", ""} {
		if _, _, ok, err := s.pullSecretCredentials(ns, []string{"mounted"}, "reg.example.com", "a/b"); ok || err != nil {
			t.Errorf("namespace %q: %v %v", ns, ok, err)
		}
	}
}

// TestDockerConfig: the keys and entry forms a pull secret may hold.
func TestDockerConfig(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		config     string
		legacy     bool
		host, repo string
		want       credentials
		ok         bool
	}{
		{`{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("hub:pw") + `"}}}`, false, "docker.io", "library/nginx", credentials{Username: "hub", Password: "pw"}, true},
		{`{"auths":{"Reg.Example.com:5000":{"username":"u","password":"p:w"}}}`, false, "reg.example.com:5000", "x", credentials{Username: "u", Password: "p:w"}, true},
		{`{"auths":{"reg.example.com":{"auth":"` + b64("u:p") + `","registrytoken":"tok"}}}`, false, "reg.example.com", "x", credentials{Username: "u", Password: "p", Token: "tok"}, true},
		{`{"auths":{"reg.example.com":{"identitytoken":"idt"}}}`, false, "reg.example.com", "x", credentials{Token: "idt"}, true},
		{`{"auths":{"reg.example.com":{"auth":"` + b64("all:1") + `"},"reg.example.com/team":{"auth":"` + b64("team:2") + `"}}}`, false, "reg.example.com", "team/app", credentials{Username: "team", Password: "2"}, true},
		{`{"auths":{"reg.example.com/team":{"auth":"` + b64("team:2") + `"}}}`, false, "reg.example.com", "teamx/app", credentials{}, false},
		{`{"reg.example.com":{"auth":"` + b64("old:pw") + `","email":"a@b"}}`, true, "reg.example.com", "x", credentials{Username: "old", Password: "pw"}, true},
		{`{"auths":{"other.example.com":{"auth":"` + b64("u:p") + `"}}}`, false, "reg.example.com", "x", credentials{}, false},
	} {
		got, ok, err := parseDockerConfig([]byte(c.config), c.legacy, c.host, c.repo)
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("%s for %s/%s: %+v %v %v", c.config, c.host, c.repo, got.Username, ok, err)
		}
	}
	for _, bad := range []string{`{"auths":{"reg.example.com":{"auth":"%%%"}}}`, `{"auths":{"reg.example.com":{"auth":"` + b64("nocolon") + `"}}}`,
		`{"auths":{"reg.example.com":{"email":"a@b"}}}`, `{"auths":[]}`, `nope`} {
		if _, ok, err := parseDockerConfig([]byte(bad), false, "reg.example.com", "x"); ok || err == nil {
			t.Errorf("%s: read", bad)
		}
	}
}

// FuzzDockerConfig: whatever a pull secret holds, reading it never
// panics, credentials found are complete, and found again when written
// back as an entry for the same host. Seeds:
// testdata/fuzz/FuzzDockerConfig.
func FuzzDockerConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, legacy bool, data []byte, host, repository string) {
		c, ok, err := parseDockerConfig(data, legacy, host, repository)
		if err != nil || !ok {
			return
		}
		if c.Token == "" && (c.Username == "" || c.Password == "") {
			t.Fatalf("incomplete credentials found")
		}
		if h, p := splitAuthKey(host); h != canonicalHost(host) || p != "" || strings.TrimSpace(host) != host {
			return
		}
		again, err := json.Marshal(map[string]any{"auths": map[string]dockerAuth{host: {Username: c.Username, Password: c.Password, RegistryToken: c.Token}}})
		if err != nil {
			t.Fatal(err)
		}
		back, ok, err := parseDockerConfig(again, false, host, repository)
		if err != nil || !ok || back != c {
			t.Fatalf("written back, not found again: %v %v", ok, err)
		}
	})
}
