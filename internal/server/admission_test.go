package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/verdict"
)

// tlsFiles writes a self-signed certificate for 127.0.0.1 and its key,
// as an API server's webhook would be given (caBundle: the certificate).
func tlsFiles(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "customs.customs.svc"},
		DNSNames: []string{"customs.customs.svc"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsClient trusts only the certificate in certFile, as the API server
// trusts the caBundle of a webhook.
func tlsClient(t testing.TB, certFile string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("no certificate in " + certFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// startAdmission runs a server over TLS that knows reg as a plain-HTTP
// registry, with the policy text in force.
func startAdmission(t testing.TB, dsn, reg, policy string, timeout time.Duration) *testServer {
	t.Helper()
	cfg := newConfig(t.TempDir(), dsn)
	cfg.Admission.Timeout = timeout
	return startAdmissionWith(t, cfg, reg, policy)
}

// startAdmissionWith is startAdmission with a configuration of the
// test's own.
func startAdmissionWith(t testing.TB, cfg Config, reg, policy string) *testServer {
	t.Helper()
	cfg.TLSCert, cfg.TLSKey = tlsFiles(t)
	ts := startWith(t, cfg)
	if _, err := ts.store.SaveRegistry(context.Background(), &store.Registry{URL: reg, PlainHTTP: true}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ts.putPolicy(t, policy)
	return ts
}

func (ts *testServer) putPolicy(t testing.TB, text string) PolicyAnswer {
	t.Helper()
	var a PolicyAnswer
	if code := ts.call(t, "PUT", "/api/v1/policies", ts.admin, []byte(text), &a); code != 201 {
		t.Fatalf("PUT policy: %d %+v", code, a)
	}
	return a
}

// scan queues a scan of ref through the API and waits for it.
func (ts *testServer) scan(t testing.TB, ref string) {
	t.Helper()
	var q ScanStatus
	if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &q); code != 202 {
		t.Fatalf("queue %s: %d", ref, code)
	}
	if st := ts.wait(t, q.ID); st.Status != StatusSucceeded {
		t.Fatalf("scan %s: %+v", ref, st)
	}
}

// admit sends an AdmissionReview creating obj (kind kind in group) in
// namespace and returns the response.
func (ts *testServer) admit(t testing.TB, group, kind, namespace string, obj any) *admissionv1.AdmissionResponse {
	t.Helper()
	return ts.admitUpdate(t, group, kind, namespace, obj, nil)
}

// admitUpdate sends an AdmissionReview updating old to obj (creating obj
// when old is nil).
func (ts *testServer) admitUpdate(t testing.TB, group, kind, namespace string, obj, old any) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	uid := types.UID(fmt.Sprintf("uid-%d", time.Now().UnixNano()))
	req := &admissionv1.AdmissionRequest{UID: uid, Kind: metav1.GroupVersionKind{Group: group, Version: "v1", Kind: kind},
		Resource:  metav1.GroupVersionResource{Group: group, Version: "v1", Resource: strings.ToLower(kind) + "s"},
		Namespace: namespace, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}}
	if old != nil {
		req.Operation = admissionv1.Update
		if req.OldObject.Raw, err = json.Marshal(old); err != nil {
			t.Fatal(err)
		}
	}
	review := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.client.Post(ts.url+"/k8s/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out admissionv1.AdmissionReview
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || out.Response == nil {
		t.Fatalf("validate %s: %d %s", kind, resp.StatusCode, b)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response.UID != uid {
		t.Errorf("answer is not the review of the request: %s %s %s", out.APIVersion, out.Kind, out.Response.UID)
	}
	return out.Response
}

// workloads wraps a pod spec in every kind the webhook inspects.
func workloads(spec corev1.PodSpec) []struct {
	group, kind string
	obj         any
} {
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: spec}
	meta := metav1.ObjectMeta{Name: "a"}
	return []struct {
		group, kind string
		obj         any
	}{
		{"", "Pod", &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta, Spec: spec}},
		{"apps", "Deployment", &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl}}},
		{"apps", "StatefulSet", &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl}}},
		{"apps", "DaemonSet", &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}}},
		{"apps", "ReplicaSet", &appsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"}, ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: tmpl}}},
		{"batch", "Job", &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}},
		{"batch", "CronJob", &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: meta,
			Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}},
	}
}

func containers(images ...string) []corev1.Container {
	var out []corev1.Container
	for i, im := range images {
		out = append(out, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: im})
	}
	return out
}

// cleanImage has an OS and nothing else; secretImage a credential file.
func cleanImage(t testing.TB, marker string) v1.Image {
	return testimage.Image(t, v1.Config{User: "1000"},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"), testimage.File("srv/marker", marker)))
}

func secretImage(t *testing.T) v1.Image {
	return testimage.Image(t, v1.Config{User: "1000"},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
			testimage.File("root/.git-credentials", "https://ci:Zq8vT3mLw9XcR2pY7nKd@git.example.com\n")))
}

const admissionPolicy = `name: cluster
unscanned:
  action: deny
rules:
  - name: glibc
    when:
      findings:
        class: [vulnerability]
        ids: [CVE-2023-4911]
    action: deny
  - name: secrets
    when:
      findings:
        class: [secret]
    action: warn
`

// TestAdmission: AdmissionReviews of every workload kind, over TLS, with
// images of a real registry scanned by the server: a vulnerable image in
// a container, an init or an ephemeral container is denied with the
// image, the rule and the worst finding named; a warned image is
// admitted with a warning; a clean one admitted; an unscanned one denied
// (fail closed); every verdict is logged with its rule.
func TestAdmission(t *testing.T) {
	reg := registry(t)
	bad, warn, clean, unscanned := reg+"/team/bad:1", reg+"/team/warn:1", reg+"/team/clean:1", reg+"/team/new:1"
	badDigest := push(t, bad, vulnerableImage(t, "admission"))
	push(t, warn, secretImage(t))
	push(t, clean, cleanImage(t, "admission"))
	push(t, unscanned, cleanImage(t, "never scanned"))
	eachStore(t, func(t *testing.T, dsn string) {
		ts := startAdmission(t, dsn, reg, admissionPolicy, time.Minute)
		for _, ref := range []string{bad, warn, clean} {
			ts.scan(t, ref)
		}
		for _, w := range workloads(corev1.PodSpec{Containers: containers(clean, bad)}) {
			resp := ts.admit(t, w.group, w.kind, "prod", w.obj)
			if resp.Allowed || resp.Result == nil || resp.Result.Code != 403 {
				t.Fatalf("%s with a vulnerable image: %+v", w.kind, resp)
			}
			for _, want := range []string{"image " + bad + " (container c1)", "rule glibc", "HIGH CVE-2023-4911 in libc6@2.36-9+deb12u1"} {
				if !strings.Contains(resp.Result.Message, want) {
					t.Errorf("%s: message %q lacks %q", w.kind, resp.Result.Message, want)
				}
			}
			if strings.Contains(resp.Result.Message, clean) {
				t.Errorf("%s: the clean image is named: %s", w.kind, resp.Result.Message)
			}
			if resp := ts.admit(t, w.group, w.kind, "prod", workloads(corev1.PodSpec{Containers: containers(clean)})[0].obj); !resp.Allowed {
				t.Errorf("clean pod: %+v", resp.Result)
			}
			resp = ts.admit(t, w.group, w.kind, "prod", w.obj)
			if resp.Allowed {
				t.Errorf("%s: allowed on the second review", w.kind)
			}
		}
		for _, w := range workloads(corev1.PodSpec{Containers: containers(clean), InitContainers: []corev1.Container{{Name: "setup", Image: bad}}}) {
			if resp := ts.admit(t, w.group, w.kind, "prod", w.obj); resp.Allowed || !strings.Contains(resp.Result.Message, "(init container setup)") {
				t.Errorf("%s with a vulnerable init container: %+v", w.kind, resp.Result)
			}
		}
		debug := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec: corev1.PodSpec{Containers: containers(clean), EphemeralContainers: []corev1.EphemeralContainer{
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: bad}}}}}
		if resp := ts.admit(t, "", "Pod", "prod", &debug); resp.Allowed || !strings.Contains(resp.Result.Message, "(ephemeral container debugger)") {
			t.Errorf("ephemeral container: %+v", resp.Result)
		}
		for _, w := range workloads(corev1.PodSpec{Containers: containers(warn, clean)}) {
			resp := ts.admit(t, w.group, w.kind, "dev", w.obj)
			if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "image "+warn+" (container c0): rule secrets") {
				t.Errorf("%s with a warned image: allowed %v, warnings %q", w.kind, resp.Allowed, resp.Warnings)
			}
		}
		// An update is judged on the images it adds.
		deploy := func(images ...string) any { return workloads(corev1.PodSpec{Containers: containers(images...)})[1].obj }
		if resp := ts.admitUpdate(t, "apps", "Deployment", "prod", deploy(bad), deploy(bad)); !resp.Allowed {
			t.Errorf("an update keeping the image: %+v", resp.Result)
		}
		if resp := ts.admitUpdate(t, "apps", "Deployment", "prod", deploy(clean, bad), deploy(clean)); resp.Allowed || !strings.Contains(resp.Result.Message, bad) {
			t.Errorf("an update adding a vulnerable image: %+v", resp.Result)
		}
		resp := ts.admit(t, "", "Pod", "prod", workloads(corev1.PodSpec{Containers: containers(unscanned)})[0].obj)
		if resp.Allowed || !strings.Contains(resp.Result.Message, "rule unscanned: the image has not been scanned") {
			t.Errorf("unscanned image: %+v", resp.Result)
		}
		// A kind the webhook does not inspect passes, with a warning.
		if resp := ts.admit(t, "", "ConfigMap", "prod", &corev1.ConfigMap{}); !resp.Allowed || len(resp.Warnings) != 1 {
			t.Errorf("ConfigMap: %+v", resp)
		}

		// A webhook that needs a token refuses callers without one.
		ts.cfg.Admission.RequireToken = true
		for token, want := range map[string]int{"": 401, ts.read: 200} {
			req, _ := http.NewRequest("POST", ts.url+"/k8s/validate", strings.NewReader(`{"request":{"uid":"u","kind":{"kind":"ConfigMap"},"operation":"CREATE"}}`))
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("token %q: %d, want %d", token, resp.StatusCode, want)
			}
		}
		ts.cfg.Admission.RequireToken = false

		var logged struct {
			Verdicts []store.VerdictRecord `json:"verdicts"`
		}
		if code := ts.call(t, "GET", "/api/v1/verdicts?action=deny&digest="+badDigest+"&limit=1000", ts.read, nil, &logged); code != 200 || len(logged.Verdicts) < 7*3 {
			t.Fatalf("verdicts: %d, %d logged", code, len(logged.Verdicts))
		}
		v := logged.Verdicts[0]
		if v.Point != PointKubernetes || v.Rule != "glibc" || v.Namespace != "prod" || v.Image != bad || v.PolicyVersion != 1 ||
			len(v.Findings) != 1 || v.Findings[0].ID != "CVE-2023-4911" {
			t.Errorf("logged verdict %+v", v)
		}
		if m := string(ts.get(t, "/metrics")); !strings.Contains(m, `customs_verdicts_total{action="deny",point="kubernetes"}`) {
			t.Errorf("no verdict metric:\n%s", m)
		}
		if code := ts.call(t, "GET", "/api/v1/verdicts?action=maybe", ts.read, nil, nil); code != 400 {
			t.Errorf("bad action filter: %d", code)
		}
	})
}

// TestScanOnDemand: with scan-on-demand an unscanned image is scanned
// while the review waits, and decided on its report; a scan that cannot
// finish within the admission timeout is answered in time, denied (fail
// closed) or, failing open, admitted with a warning.
func TestScanOnDemand(t *testing.T) {
	reg := registry(t)
	slow := slowRegistry(t, 3*time.Second)
	bad, clean, late := reg+"/team/bad:2", reg+"/team/clean:2", slow+"/team/late:1"
	push(t, bad, vulnerableImage(t, "on demand"))
	push(t, clean, cleanImage(t, "on demand"))
	push(t, late, cleanImage(t, "late"))
	eachStore(t, func(t *testing.T, dsn string) {
		ts := startAdmission(t, dsn, reg, admissionPolicy+"\n", time.Minute)
		if _, err := ts.store.SaveRegistry(context.Background(), &store.Registry{URL: slow, PlainHTTP: true}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		ts.putPolicy(t, strings.Replace(admissionPolicy, "unscanned:\n", "unscanned:\n  scan-on-demand: true\n  timeout: 50s\n", 1))
		pod := func(image string) any { return workloads(corev1.PodSpec{Containers: containers(image)})[0].obj }
		if resp := ts.admit(t, "", "Pod", "prod", pod(bad)); resp.Allowed || !strings.Contains(resp.Result.Message, "rule glibc") {
			t.Errorf("scanned on demand, vulnerable: %+v", resp.Result)
		}
		if resp := ts.admit(t, "", "Pod", "prod", pod(clean)); !resp.Allowed {
			t.Errorf("scanned on demand, clean: %+v", resp.Result)
		}

		ts.cfg.Admission.Timeout = time.Second
		started := time.Now()
		resp := ts.admit(t, "", "Pod", "prod", pod(late))
		if took := time.Since(started); took > 3*time.Second {
			t.Errorf("the review took %s with a timeout of 1s", took)
		}
		if resp.Allowed || !strings.Contains(resp.Result.Message, "no decision") {
			t.Errorf("timed out, fail closed: %+v", resp.Result)
		}
		ts.cfg.Admission.FailOpen = true
		resp = ts.admit(t, "", "Pod", "prod", pod(late))
		if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "no decision") {
			t.Errorf("timed out, fail open: %+v", resp)
		}
	})
}

// TestPolicyVersions: every PUT is a new version, the newest in force; a
// broken policy is refused with its line and changes nothing; only
// admins may PUT.
func TestPolicyVersions(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		var a PolicyAnswer
		if code := ts.call(t, "GET", "/api/v1/policies", ts.read, nil, &a); code != 200 || a.Current != nil || len(a.Versions) != 0 {
			t.Fatalf("no policy: %d %+v", code, a)
		}
		first := ts.putPolicy(t, admissionPolicy)
		second := ts.putPolicy(t, "name: relaxed\nunscanned:\n  action: allow\n")
		if first.Current.Version != 1 || second.Current.Version != 2 || first.Rules != 2 {
			t.Errorf("versions %+v %+v", first.Current, second.Current)
		}
		if code := ts.call(t, "PUT", "/api/v1/policies", ts.read, []byte(admissionPolicy), nil); code != 403 {
			t.Errorf("read token stored a policy: %d", code)
		}
		var e map[string]string
		if code := ts.call(t, "PUT", "/api/v1/policies", ts.admin, []byte("rules:\n  - name: a\n    action: deny\n    colour: red\n"), &e); code != 400 || !strings.Contains(e["error"], `line 4: unknown key "colour"`) {
			t.Errorf("broken policy: %d %v", code, e)
		}
		if code := ts.call(t, "GET", "/api/v1/policies", ts.read, nil, &a); code != 200 || a.Current.Version != 2 || a.Current.Name != "relaxed" ||
			!strings.Contains(a.Current.Text, "action: allow") || len(a.Versions) != 2 || a.Versions[1].Version != 1 || a.Versions[1].Text != "" {
			t.Errorf("current and versions: %+v", a)
		}
		p, v, err := ts.currentPolicy(context.Background())
		if err != nil || v != 2 || p.Unscanned.Action != verdict.Allow {
			t.Errorf("policy in force: version %d, %v", v, err)
		}
	})
}

// BenchmarkAdmissionReview: one AdmissionReview of a Pod with three
// containers whose images the server has scanned, over TLS with the
// embedded store: digest look-ups in the registry, report reads, the
// policy and the verdict log.
func BenchmarkAdmissionReview(b *testing.B) {
	reg := registry(b)
	var images []string
	for i := range 3 {
		ref := fmt.Sprintf("%s/team/app%d:1", reg, i)
		push(b, ref, cleanImage(b, ref))
		images = append(images, ref)
	}
	ts := startAdmission(b, "", reg, admissionPolicy, time.Minute)
	for _, ref := range images {
		ts.scan(b, ref)
	}
	pod := workloads(corev1.PodSpec{Containers: containers(images...)})[0].obj
	for b.Loop() {
		if resp := ts.admit(b, "", "Pod", "prod", pod); !resp.Allowed {
			b.Fatalf("denied: %+v", resp.Result)
		}
	}
}
