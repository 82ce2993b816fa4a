package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/check"
	"github.com/customs-scanner/customs/internal/harbor"
	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/server"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/verdict"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// enforcePolicy is the one policy every enforcement point decides with.
// Images the server has not scanned are scanned on demand, so every
// point decides on a report of the same image.
const enforcePolicy = `name: enforce
unscanned:
  scan-on-demand: true
  timeout: 90s
rules:
  - name: glibc
    when:
      findings:
        class: [vulnerability]
        ids: [CVE-2023-4911]
    action: deny
  - name: root-latest
    match:
      tags: [latest]
    when:
      image:
        runs-as-root: true
    action: deny
  - name: secrets
    when:
      findings:
        class: [secret]
    action: warn
exceptions:
  - rule: glibc
    match:
      repositories: [team/excepted]
    expires: 2099-01-01
    reason: accepted until the base image is replaced
`

// enforceEnv is what the enforcement points share: a real registry
// holding the images, the policy file, and a server (embedded store)
// with the policy in force that knows the registry.
type enforceEnv struct {
	registry   string
	policyFile string
	server     *server.Server
	url, admin string
	// docker is a dockerd whose authorization plugin is the server's;
	// remoteDocker one whose plugin is `customs authz` asking the server.
	docker, remoteDocker *client.Client
}

// enforcement is one enforcement point: decide returns the action it
// took on the image ref and the rule that decided. More points are more
// rows: a function that
// asks that point about ref, with what it needs started once in
// newEnforceEnv or lazily in the function.
type enforcement struct {
	name   string
	decide func(t *testing.T, env *enforceEnv, ref string) (verdict.Action, string)
}

var enforcements = []enforcement{
	{"cli", cliDecision},
	{"kubernetes", admissionDecision},
	{"harbor", harborDecision},
	{"docker", func(t *testing.T, env *enforceEnv, ref string) (verdict.Action, string) {
		return dockerDecision(t, env, env.docker, ref)
	}},
	{"docker-remote", func(t *testing.T, env *enforceEnv, ref string) (verdict.Action, string) {
		return dockerDecision(t, env, env.remoteDocker, ref)
	}},
}

// TestEnforcementPointsAgree: for the same image and policy, every
// enforcement point takes the same action by the same rule, and the one
// the policy means.
func TestEnforcementPointsAgree(t *testing.T) {
	env := newEnforceEnv(t)
	debian := testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"))
	libc := testimage.Layer(t, testimage.File("var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\n\n"))
	vulnerable := testimage.Image(t, v1.Config{User: "1000"}, debian, libc)
	root := testimage.Image(t, v1.Config{}, debian)
	secret := testimage.Image(t, v1.Config{User: "1000"}, debian,
		testimage.Layer(t, testimage.File("root/.git-credentials", "https://ci:Zq8vT3mLw9XcR2pY7nKd@git.example.com\n")))
	clean := testimage.Image(t, v1.Config{User: "1000"}, debian)
	for _, c := range []struct {
		repoTag string
		img     v1.Image
		action  verdict.Action
		rule    string
	}{
		{"team/vulnerable:1", vulnerable, verdict.Deny, "glibc"},
		{"team/excepted:1", vulnerable, verdict.Allow, verdict.RuleDefault},
		{"team/rooted:latest", root, verdict.Deny, "root-latest"},
		{"team/rooted:1", root, verdict.Allow, verdict.RuleDefault},
		{"team/secret:1", secret, verdict.Warn, "secrets"},
		{"team/clean:1", clean, verdict.Allow, verdict.RuleDefault},
	} {
		ref := env.registry + "/" + c.repoTag
		testenv.Push(t, ref, c.img)
		for _, e := range enforcements {
			t.Run(c.repoTag+"/"+e.name, func(t *testing.T) {
				action, rule := e.decide(t, env, ref)
				if action != c.action || rule != c.rule {
					t.Errorf("%s decided %s by rule %q, want %s by %q", e.name, action, rule, c.action, c.rule)
				}
			})
		}
	}
}

func newEnforceEnv(t *testing.T) *enforceEnv {
	t.Helper()
	env := &enforceEnv{registry: testenv.Registry(t, testenv.RegistryOptions{}).Host}
	env.policyFile = filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(env.policyFile, []byte(enforcePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The server answers a dockerd of its own as its authorization
	// plugin. That engine starts after the plugin, so the server is
	// given a symbolic link that then points at the engine's socket.
	dir := t.TempDir()
	authz, link := filepath.Join(dir, "authz.sock"), filepath.Join(dir, "docker.sock")
	// The server scans as `customs image` does by default.
	s, err := server.New(ctx, server.Config{DataDir: t.TempDir(), HostName: "enforce", ShutdownGrace: 5 * time.Second,
		Admission:   server.AdmissionConfig{Timeout: 2 * time.Minute},
		DockerAuthz: server.DockerAuthzConfig{Socket: authz, Timeout: 2 * time.Minute},
		Watch:       server.WatchConfig{DockerHost: "unix://" + link},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Pipeline: pipeline.Config{Vuln: pipeline.VulnConfig{DBDir: vulndb.SampleName}, Version: "test",
			Analyzers: all.Config{MaxImageAgeDays: check.DefaultMaxImageAgeDays, PasswordGuessing: "quick"}}})
	if err != nil {
		t.Fatal(err)
	}
	ln := testenv.Listen(t)
	testenv.Serve(t, s, ln)
	env.server, env.url = s, "http://"+ln.Addr().String()
	_, env.docker = testenv.DockerAuthz(t, authz, link)
	if env.admin, err = s.Store().CreateToken(ctx, store.RoleAdmin, "enforce"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store().SaveRegistry(ctx, &store.Registry{URL: env.registry, PlainHTTP: true}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	resp := env.request(t, "PUT", "/api/v1/policies", "application/yaml", []byte(enforcePolicy))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT policy: %d", resp.StatusCode)
	}
	env.remoteDocker = startRemoteAuthz(t, env)
	return env
}

// request calls the server with the admin token and returns the answer,
// its body read and closed.
func (env *enforceEnv) request(t *testing.T, method, path, contentType string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.admin)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// cliDecision is `customs image --policy`: the report's verdict, checked
// against the exit code.
func cliDecision(t *testing.T, env *enforceEnv, ref string) (verdict.Action, string) {
	code, rep, stderr := jsonReport(t, "image", ref, "--plain-http", "--policy", env.policyFile, "--db-dir", vulndb.SampleName, "--no-cache", "-q")
	if rep == nil || rep.Verdict == nil {
		t.Fatalf("no verdict: exit %d, %s", code, stderr)
	}
	if want := map[bool]int{true: 1, false: 0}[rep.Verdict.Action == verdict.Deny]; code != want {
		t.Errorf("exit %d for %s (%s)", code, rep.Verdict.Action, stderr)
	}
	return rep.Verdict.Action, rep.Verdict.Rule
}

// admissionDecision is the Kubernetes admission webhook, asked about a
// Pod running ref: the action is what the AdmissionReview answer says
// (refused: deny; admitted with a warning: warn), the rule is the one
// the server logged for it.
func admissionDecision(t *testing.T, env *enforceEnv, ref string) (verdict.Action, string) {
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: ref}}}}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "enforce", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Namespace: "default", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := env.request(t, "POST", "/k8s/validate", "application/json", body)
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || review.Response == nil {
		t.Fatalf("review: %d %v", resp.StatusCode, err)
	}
	action := verdict.Allow
	switch {
	case !review.Response.Allowed:
		action = verdict.Deny
	case len(review.Response.Warnings) > 0:
		action = verdict.Warn
	}
	resp = env.request(t, "GET", "/api/v1/verdicts?limit=1", "", nil)
	var logged struct {
		Verdicts []store.VerdictRecord `json:"verdicts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&logged); err != nil || len(logged.Verdicts) != 1 || logged.Verdicts[0].Image != ref {
		t.Fatalf("logged verdict: %v %+v", err, logged)
	}
	v := logged.Verdicts[0]
	if v.Action != action {
		t.Errorf("the review answered %s, the log says %s", action, v.Action)
	}
	if action == verdict.Deny && !strings.Contains(review.Response.Result.Message, fmt.Sprintf("rule %s:", v.Rule)) {
		t.Errorf("the refusal does not name rule %s: %s", v.Rule, review.Response.Result.Message)
	}
	return action, v.Rule
}

// lastVerdict is the verdict the server logged last, which must be of
// point and image ref.
func (env *enforceEnv) lastVerdict(t *testing.T, point, ref string) store.VerdictRecord {
	t.Helper()
	resp := env.request(t, "GET", "/api/v1/verdicts?limit=1", "", nil)
	var logged struct {
		Verdicts []store.VerdictRecord `json:"verdicts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&logged); err != nil || len(logged.Verdicts) != 1 || logged.Verdicts[0].Point != point ||
		!strings.HasPrefix(logged.Verdicts[0].Image, ref) {
		t.Fatalf("logged verdict: %v %+v", err, logged)
	}
	return logged.Verdicts[0]
}

// harborDecision is the Harbor scanner API, asked as Harbor asks: a scan
// request for the artifact (the registry URL, the repository, the digest
// the registry gives the tag, the tag), then the vulnerability report.
// Harbor stops an image when the report holds the policy's deny entry;
// the rule is the one the server logged (Harbor itself has no warning:
// a warn, like an allow, adds nothing to the report).
func harborDecision(t *testing.T, env *enforceEnv, ref string) (verdict.Action, string) {
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(harbor.ScanRequest{Registry: harbor.Registry{URL: "http://" + env.registry},
		Artifact: harbor.Artifact{Repository: tag.RepositoryStr(), Digest: desc.Digest.String(), Tag: tag.TagStr(), MimeType: string(desc.MediaType)}})
	if err != nil {
		t.Fatal(err)
	}
	resp := env.request(t, "POST", "/harbor/api/v1/scan", harbor.MimeScanRequest, body)
	var sr harbor.ScanResponse
	if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("scan request: %d %v", resp.StatusCode, err)
	}
	var vr harbor.VulnerabilityReport
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp = env.request(t, "GET", "/harbor/api/v1/scan/"+sr.ID+"/report", "", nil)
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&vr); err != nil {
				t.Fatal(err)
			}
			break
		}
		if resp.StatusCode != http.StatusFound || time.Now().After(deadline) {
			t.Fatalf("report: %d", resp.StatusCode)
		}
	}
	v := env.lastVerdict(t, server.PointHarbor, tag.Context().Name())
	denied := ""
	for _, it := range vr.Vulnerabilities {
		if it.VendorAttributes["class"] == harbor.PolicyClass {
			denied = it.VendorAttributes["rule"]
		}
	}
	if (denied != "") != (v.Action == verdict.Deny) || denied != "" && (denied != v.Rule || vr.Severity != harbor.SeverityCritical) {
		t.Errorf("the report's policy entry %q (severity %s), the logged verdict %s by %q", denied, vr.Severity, v.Action, v.Rule)
	}
	return v.Action, v.Rule
}

// startRemoteAuthz runs `customs authz` asking the server, and a dockerd
// whose authorization plugin it is; it returns a client of that dockerd.
func startRemoteAuthz(t *testing.T, env *enforceEnv) *client.Client {
	t.Helper()
	dir := t.TempDir()
	sock, link := filepath.Join(dir, "authz.sock"), filepath.Join(dir, "docker.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var stderr bytes.Buffer
	go func() {
		defer close(done)
		if code := Main(ctx, []string{"authz", "--server", env.url, "--token", env.admin, "--socket", sock,
			"--docker-host", "unix://" + link, "--host-name", "remote"}, io.Discard, &stderr); code != ExitOK {
			t.Errorf("customs authz: exit %d", code)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("customs authz:\n%s", stderr.String())
		}
	})
	_, cli := testenv.DockerAuthz(t, sock, link)
	return cli
}

// dockerDecision is a Docker authorization plugin: the dockerd of cli
// pulls ref and creates a container from it. A refusal naming the rule
// is a deny; the rule is the one the server logged.
func dockerDecision(t *testing.T, env *enforceEnv, docker *client.Client, ref string) (verdict.Action, string) {
	ctx := context.Background()
	pull, err := docker.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, pull)
	pull.Close()
	res, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: ref, Cmd: []string{"/bin/true"}}})
	if err == nil {
		if _, err := docker.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	} else if !strings.Contains(err.Error(), "authorization denied by plugin") {
		t.Fatalf("create: %v", err)
	}
	v := env.lastVerdict(t, server.PointDocker, ref)
	if (err != nil) != (v.Action == verdict.Deny) || err != nil && !strings.Contains(err.Error(), fmt.Sprintf("rule %q", v.Rule)) {
		t.Errorf("create: %v; the logged verdict %s by %q", err, v.Action, v.Rule)
	}
	return v.Action, v.Rule
}
