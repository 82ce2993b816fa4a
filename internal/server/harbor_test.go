package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/customs-scanner/customs/internal/harbor"
	"github.com/customs-scanner/customs/internal/report/schematest"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// authRegistry serves the reference registry in-process with htpasswd
// basic authentication of user and password.
func authRegistry(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(f, []byte(user+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return registryWith(t, "auth:\n  htpasswd:\n    realm: test\n    path: "+f+"\n")
}

// pushAuth pushes img to ref with basic credentials and returns its digest.
func pushAuth(t *testing.T, ref, user, password string, img v1.Image) string {
	t.Helper()
	return testenv.Push(t, ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
}

// harborConfig is a test server's configuration with a secret key.
func harborConfig(t *testing.T, dsn string) Config {
	cfg := newConfig(t.TempDir(), dsn)
	cfg.SecretKeyFile = filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(cfg.SecretKeyFile, []byte(strings.Repeat("5a", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// harborCall makes a request to the Harbor API as Harbor does: the
// configured Authorization header, the spec's MIME types.
func (ts *testServer) harborCall(t *testing.T, method, path, token, accept string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.url+"/harbor/api/v1"+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.scanner.adapter.scan.request+json; version=1.0")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// harborError checks an error answer: the spec's envelope with a message.
func harborError(t *testing.T, what string, code, want int, h http.Header, data []byte) {
	t.Helper()
	if code != want {
		t.Errorf("%s: %d %s, want %d", what, code, data, want)
		return
	}
	schematest.Validate(t, schematest.HarborErrorResponse, data)
	var e harbor.ErrorResponse
	if err := json.Unmarshal(data, &e); err != nil || e.Error.Message == "" || h.Get("Content-Type") != harbor.MimeError {
		t.Errorf("%s: %s %s", what, h.Get("Content-Type"), data)
	}
}

func harborRequest(t *testing.T, reg, auth, repo, digest, tag string) []byte {
	t.Helper()
	b, err := json.Marshal(harbor.ScanRequest{Registry: harbor.Registry{URL: "http://" + reg, Authorization: auth},
		Artifact: harbor.Artifact{Repository: repo, Digest: digest, Tag: tag, MimeType: harbor.MimeOCIManifest}})
	if err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, schematest.HarborScanRequest, b)
	return b
}

// harborSubmit posts a scan request and returns its id.
func (ts *testServer) harborSubmit(t *testing.T, body []byte) string {
	t.Helper()
	code, h, data := ts.harborCall(t, "POST", "/scan", ts.admin, harbor.MimeScanResponse, body)
	if code != http.StatusAccepted {
		t.Fatalf("scan request: %d %s", code, data)
	}
	schematest.Validate(t, schematest.HarborScanResponse, data)
	var sr harbor.ScanResponse
	if err := json.Unmarshal(data, &sr); err != nil || sr.ID == "" || h.Get("Content-Type") != harbor.MimeScanResponse {
		t.Fatalf("scan response %s %s", h.Get("Content-Type"), data)
	}
	return sr.ID
}

// harborPoll polls a report as Harbor does, honouring Refresh-After
// (shortened), until it is not 302.
func (ts *testServer) harborPoll(t *testing.T, id, accept, query string) (int, http.Header, []byte) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, h, data := ts.harborCall(t, "GET", "/scan/"+id+"/report"+query, ts.read, accept, nil)
		if code != http.StatusFound {
			return code, h, data
		}
		if h.Get("Refresh-After") == "" {
			t.Fatalf("302 without Refresh-After")
		}
	}
	t.Fatalf("report %s not ready", id)
	return 0, nil, nil
}

// TestHarborAdapter: Harbor's request cycle against a registry with
// basic authentication: metadata, a scan request carrying the
// registry's credentials (kept sealed in the job), 302 until the report
// is ready, then each report type, all valid against the spec's schemas.
func TestHarborAdapter(t *testing.T) {
	const user, password = "robot$harbor", "Harbor-Pull-Secret-42"
	reg := authRegistry(t, user, password)
	digest := pushAuth(t, reg+"/library/app:1.0", user, password, vulnerableImage(t, "harbor"))
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	eachStore(t, func(t *testing.T, dsn string) {
		ts := startWith(t, harborConfig(t, dsn))

		code, h, data := ts.harborCall(t, "GET", "/metadata", ts.read, "application/vnd.scanner.adapter.metadata+json; version=1.0", nil)
		if code != 200 || h.Get("Content-Type") != harbor.MimeMetadata {
			t.Fatalf("metadata: %d %s %s", code, h.Get("Content-Type"), data)
		}
		schematest.Validate(t, schematest.HarborMetadata, data)
		var meta harbor.Metadata
		if err := json.Unmarshal(data, &meta); err != nil || meta.Scanner.Version != "test" || meta.Properties["org.label-schema.version"] != "test" {
			t.Errorf("metadata %s", data)
		}

		code, h, data = ts.harborCall(t, "GET", "/metadata", "", "", nil)
		harborError(t, "no token", code, 401, h, data)
		body := harborRequest(t, reg, auth, "library/app", digest, "1.0")
		code, h, data = ts.harborCall(t, "POST", "/scan", ts.read, "", body)
		harborError(t, "read token", code, 403, h, data)
		code, h, data = ts.harborCall(t, "POST", "/scan", ts.admin, "", []byte("{"))
		harborError(t, "bad JSON", code, 400, h, data)
		code, h, data = ts.harborCall(t, "POST", "/scan", ts.admin, "", harborRequest(t, reg, auth, "library/app", "sha256:1", ""))
		harborError(t, "bad digest", code, 422, h, data)
		code, h, data = ts.harborCall(t, "POST", "/scan", ts.admin, "", []byte(`{"registry":{"url":"http://`+reg+`"},"artifact":{"repository":"a","digest":"`+digest+`","mime_type":"application/vnd.oci.image.index.v1+json"}}`))
		harborError(t, "an index", code, 501, h, data)
		code, h, data = ts.harborCall(t, "GET", "/scan/999999/report", ts.read, "", nil)
		harborError(t, "unknown id", code, 404, h, data)

		id := ts.harborSubmit(t, body)
		// The credentials are in the queue's database, sealed only.
		var args string
		if err := ts.store.QueryRow(context.Background(), `SELECT CAST(args AS TEXT) FROM river_job WHERE id = ?`, id).Scan(&args); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(args, password) || strings.Contains(args, auth[6:]) || !strings.Contains(args, "auth_id") {
			t.Errorf("job args hold the credentials in clear or not at all: %s", args)
		}
		if again := ts.harborSubmit(t, body); again != id {
			// A scan already done is scanned again; one waiting is joined.
			if code, _, _ := ts.harborCall(t, "GET", "/scan/"+id+"/report", ts.read, "", nil); code == http.StatusFound {
				t.Errorf("a second request while the first waits: id %s, want %s", again, id)
			}
		}

		code, h, data = ts.harborPoll(t, id, harbor.MimeVulnReport, "")
		if code != 200 || h.Get("Content-Type") != harbor.MimeVulnReport {
			t.Fatalf("report: %d %s %s", code, h.Get("Content-Type"), data)
		}
		schematest.Validate(t, schematest.HarborVulnerabilityReport, data)
		var vr harbor.VulnerabilityReport
		if err := json.Unmarshal(data, &vr); err != nil {
			t.Fatal(err)
		}
		classes := map[string]string{}
		for _, v := range vr.Vulnerabilities {
			classes[v.ID] = v.VendorAttributes["class"] + " " + v.Package + " " + v.Severity
		}
		if vr.Artifact.Digest != digest || vr.Artifact.Repository != "library/app" || vr.Artifact.Tag != "1.0" || vr.Severity != harbor.SeverityHigh ||
			classes["CVE-2023-4911"] != "vulnerability libc6 High" {
			t.Errorf("report: %s %+v %v", vr.Severity, vr.Artifact, classes)
		}
		var secret bool
		for _, c := range classes {
			secret = secret || strings.HasPrefix(c, "secret root/.git-credentials ")
		}
		if !secret {
			t.Errorf("the credential file is not in the report: %v", classes)
		}

		code, h, data = ts.harborPoll(t, id, harbor.MimeRawReport, "")
		if code != 200 || h.Get("Content-Type") != harbor.MimeRawReport {
			t.Fatalf("raw report: %d %s", code, data)
		}
		schematest.Validate(t, schematest.ReportURL, data)

		for media, schema := range map[string]string{harbor.MediaCycloneDX: schematest.CycloneDXURL, harbor.MediaSPDX: schematest.SPDXURL} {
			code, h, data = ts.harborPoll(t, id, harbor.MimeSBOMReport, "?sbom_media_type="+strings.ReplaceAll(media, "+", "%2B"))
			if code != 200 || h.Get("Content-Type") != harbor.MimeSBOMReport {
				t.Fatalf("%s: %d %s", media, code, data)
			}
			schematest.Validate(t, schematest.HarborSBOMReport, data)
			var sb harbor.SBOMReport
			if err := json.Unmarshal(data, &sb); err != nil || sb.MediaType != media || sb.Artifact.Digest != digest {
				t.Fatalf("%s: %s", media, data)
			}
			schematest.Validate(t, schema, sb.SBOM)
		}
		// The image policy's deny is an entry of the report: Harbor stops
		// what the policy denies.
		for _, v := range vr.Vulnerabilities {
			if v.VendorAttributes["class"] == harbor.PolicyClass {
				t.Errorf("the built-in policy denied a scanned image: %+v", v)
			}
		}
		if code := ts.call(t, "PUT", "/api/v1/policies", ts.admin, []byte(dockerPolicy), nil); code != 201 {
			t.Fatalf("put policy: %d", code)
		}
		code, _, data = ts.harborPoll(t, id, harbor.MimeVulnReport, "")
		if err := json.Unmarshal(data, &vr); code != 200 || err != nil {
			t.Fatalf("report under a policy: %d %s", code, data)
		}
		schematest.Validate(t, schematest.HarborVulnerabilityReport, data)
		if last := vr.Vulnerabilities[len(vr.Vulnerabilities)-1]; vr.Severity != harbor.SeverityCritical || last.ID != "customs-policy:no-secrets" ||
			last.Severity != harbor.SeverityCritical || last.VendorAttributes["class"] != harbor.PolicyClass {
			t.Errorf("report under a policy: %s %+v", vr.Severity, last)
		}

		code, h, data = ts.harborCall(t, "GET", "/scan/"+id+"/report", ts.read, harbor.MimeSBOMReport, nil)
		harborError(t, "SBOM without a format", code, 400, h, data)
		code, h, data = ts.harborCall(t, "GET", "/scan/"+id+"/report", ts.read, "text/html", nil)
		harborError(t, "unknown report type", code, 501, h, data)

		// Wrong credentials: the registry refuses, and the report says so
		// once the scan has given up.
		bad := ts.harborSubmit(t, harborRequest(t, reg, "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":wrong")), "library/app", digest, "1.0"))
		if bad == id {
			t.Fatal("other credentials joined the scan")
		}
		jid, _ := json.Number(bad).Int64()
		if _, err := ts.jobs.JobCancel(context.Background(), jid); err != nil {
			t.Fatal(err)
		}
		code, h, data = ts.harborPoll(t, bad, "", "")
		harborError(t, "canceled scan", code, 500, h, data)
	})
}

// TestHarborBurst: 50 scan requests at once are all queued (202), and
// every report is served.
func TestHarborBurst(t *testing.T) {
	const n = 50
	reg := registry(t)
	var digests []string
	for i := range n {
		img := testimage.Image(t, v1.Config{},
			testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")),
			testimage.Layer(t, testimage.File("srv/marker", fmt.Sprint(i))))
		digests = append(digests, push(t, fmt.Sprintf("%s/burst/app:%d", reg, i), img))
	}
	eachStore(t, func(t *testing.T, dsn string) {
		ts := startWith(t, harborConfig(t, dsn))
		ids := make([]string, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		for i := range n {
			wg.Go(func() {
				body, _ := json.Marshal(harbor.ScanRequest{Registry: harbor.Registry{URL: "http://" + reg},
					Artifact: harbor.Artifact{Repository: "burst/app", Digest: digests[i], Tag: fmt.Sprint(i)}})
				req, _ := http.NewRequest("POST", ts.url+"/harbor/api/v1/scan", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+ts.admin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					return
				}
				defer resp.Body.Close()
				var sr harbor.ScanResponse
				if resp.StatusCode != http.StatusAccepted || json.NewDecoder(resp.Body).Decode(&sr) != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("request %d: %d", i, resp.StatusCode))
					mu.Unlock()
					return
				}
				ids[i] = sr.ID
			})
		}
		wg.Wait()
		if len(failed) > 0 {
			t.Fatalf("%d of %d requests refused: %v", len(failed), n, failed)
		}
		seen := map[string]bool{}
		for i, id := range ids {
			if seen[id] {
				t.Errorf("two images got scan %s", id)
			}
			seen[id] = true
			code, _, data := ts.harborPoll(t, id, "", "")
			var vr harbor.VulnerabilityReport
			if code != 200 || json.Unmarshal(data, &vr) != nil || vr.Artifact.Digest != digests[i] {
				t.Fatalf("report %d: %d %s", i, code, data)
			}
		}
	})
}

// TestHarborNoSecretKey: credentials are never queued without a key to
// seal them with.
func TestHarborNoSecretKey(t *testing.T) {
	ts := start(t, t.TempDir(), "")
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
	code, h, data := ts.harborCall(t, "POST", "/scan", ts.admin, "", harborRequest(t, "127.0.0.1:1", auth, "a", "sha256:"+strings.Repeat("0", 64), ""))
	harborError(t, "credentials without a key", code, 500, h, data)
	if !strings.Contains(string(data), "--secret-key-file") {
		t.Errorf("the error does not say what to do: %s", data)
	}
}

func TestHarborPath(t *testing.T) {
	for p, ok := range map[string]bool{"": true, "/harbor": true, "/": true, "/a/b": true, "harbor": false, "/harbor/": false, "/a/../b": false, "/{x}": false} {
		c := Config{HarborPath: p}
		if err := c.harborDefaults(); (err == nil) != ok {
			t.Errorf("%q: %v", p, err)
		}
	}
}
