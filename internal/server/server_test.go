package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/report/schematest"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testenv/distreg"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(workerEnv); dsn != "" {
		os.Exit(runWorker(dsn))
	}
	os.Exit(testenv.Run(m))
}

// registry serves the reference registry (distribution) in-process over
// plain HTTP and returns its host:port.
func registry(t testing.TB) string { return registryWith(t, "") }

// registryWith is registry with more configuration (YAML) at the end.
func registryWith(t testing.TB, extra string) string {
	t.Helper()
	return distreg.Serve(t, registryApp(t, extra))
}

// registryApp is the reference registry's handler, with more
// configuration (YAML) at the end.
func registryApp(t testing.TB, extra string) http.Handler {
	t.Helper()
	return distreg.Handler(t, extra)
}

// vulnerableImage has a Debian libc6 the bundled sample records affect
// (CVE-2023-4911) and a credential file.
func vulnerableImage(t *testing.T, marker string) v1.Image {
	return testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")),
		testimage.Layer(t, testimage.File("var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\n\n"),
			testimage.File("root/.git-credentials", "https://ci:Zq8vT3mLw9XcR2pY7nKd@git.example.com\n"),
			testimage.File("srv/marker", marker)))
}

// push is testenv.Push without options, as most tests here push.
func push(t testing.TB, ref string, img v1.Image) string {
	t.Helper()
	return testenv.Push(t, ref, img)
}

// testServer is a running server with an admin and a read token.
type testServer struct {
	*Server
	url          string
	admin, read  string
	stop         func()
	dataDir, dsn string
	// client trusts the server's certificate, when it has one.
	client *http.Client
}

func newConfig(dataDir, dsn string) Config {
	return Config{
		DataDir: dataDir, Database: dsn, Workers: 2, HostName: "test-host",
		ShutdownGrace: 5 * time.Second,
		SweepCheck:    time.Second,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Pipeline:      pipeline.Config{Vuln: pipeline.VulnConfig{DBDir: vulndb.SampleName}, Version: "test"},
	}
}

// start runs a server on a free loopback port until the test ends; run
// false opens it without serving (to queue jobs and stop).
func start(t testing.TB, dataDir, dsn string) *testServer {
	t.Helper()
	return startWith(t, newConfig(dataDir, dsn))
}

// startWith is start with a configuration of the test's own.
func startWith(t testing.TB, cfg Config) *testServer {
	t.Helper()
	dataDir, dsn := cfg.DataDir, cfg.Database
	ctx := context.Background()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	scheme, client := "http", http.DefaultClient
	if cfg.TLSCert != "" {
		scheme, client = "https", tlsClient(t, cfg.TLSCert)
	}
	ln, err := s.secure(testenv.Listen(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, url: scheme + "://" + ln.Addr().String(), client: client, dataDir: dataDir, dsn: dsn}
	ts.stop = testenv.Serve(t, s, ln)
	if ts.admin, err = s.store.CreateToken(ctx, store.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	if ts.read, err = s.store.CreateToken(ctx, store.RoleRead, "test"); err != nil {
		t.Fatal(err)
	}
	return ts
}

// call makes an API request (body: JSON of a value, or []byte as it is)
// and decodes a JSON answer into out.
func (ts *testServer) call(t testing.TB, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if b, ok := body.([]byte); ok {
		rd = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.url+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// wait polls a scan until it ends.
func (ts *testServer) wait(t testing.TB, id int64) ScanStatus {
	t.Helper()
	var st ScanStatus
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code := ts.call(t, "GET", fmt.Sprintf("/api/v1/scans/%d", id), ts.read, nil, &st); code != 200 {
			t.Fatalf("scan %d: %d", id, code)
		}
		switch st.Status {
		case StatusSucceeded, StatusFailed, StatusCanceled:
			return st
		}
	}
	t.Fatalf("scan %d did not end: %+v", id, st)
	return st
}

func eachStore(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "") })
	t.Run("postgres", func(t *testing.T) { fn(t, testenv.Postgres(t)) })
}

func TestScanThroughAPI(t *testing.T) {
	reg := registry(t)
	ref := reg + "/team/app:1"
	digest := push(t, ref, vulnerableImage(t, "one"))
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)

		// Tokens: none, unknown, and too weak.
		if code := ts.call(t, "GET", "/api/v1/images", "", nil, nil); code != 401 {
			t.Errorf("no token: %d", code)
		}
		if code := ts.call(t, "GET", "/api/v1/images", "cst_nope", nil, nil); code != 401 {
			t.Errorf("unknown token: %d", code)
		}
		if code := ts.call(t, "POST", "/api/v1/scans", ts.read, ScanRequest{Image: ref}, nil); code != 403 {
			t.Errorf("read token queued a scan: %d", code)
		}
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: "/etc"}, nil); code != 400 {
			t.Errorf("a path was accepted: %d", code)
		}
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if code := ts.call(t, "GET", p, "", nil, nil); code != 200 && p != "/metrics" {
				t.Errorf("%s: %d", p, code)
			}
		}

		var queued ScanStatus
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &queued); code != 202 || queued.ID == 0 {
			t.Fatalf("queue: %d %+v", code, queued)
		}
		st := ts.wait(t, queued.ID)
		if st.Status != StatusSucceeded || st.Digest != digest {
			t.Fatalf("scan: %+v, want succeeded on %s", st, digest)
		}

		var page store.ImagePage
		if code := ts.call(t, "GET", "/api/v1/images?repository="+reg+"/team/app&min_vulnerability=high&has_secrets=true", ts.read, nil, &page); code != 200 || len(page.Images) != 1 {
			t.Fatalf("images: %d %+v", code, page)
		}
		im := page.Images[0]
		if im.Digest != digest || im.Summary["vulnerability"]["HIGH"] == 0 || len(im.Refs) != 1 || im.Refs[0].Tag != "1" {
			t.Errorf("image: %+v", im)
		}
		if code := ts.call(t, "GET", "/api/v1/images?has_malware=true", ts.read, nil, &page); code != 200 || len(page.Images) != 0 {
			t.Errorf("has_malware: %d %+v", code, page)
		}
		if code := ts.call(t, "GET", "/api/v1/images?min_vulnerability=bad", ts.read, nil, nil); code != 400 {
			t.Errorf("bad severity: %d", code)
		}

		// The report is the document `customs image --format json` writes.
		resp := ts.get(t, "/api/v1/images/"+digest+"/report")
		schematest.Validate(t, schematest.ReportURL, resp)
		var rep report.Report
		if err := json.Unmarshal(resp, &rep); err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.New(context.Background(), pipeline.Config{Vuln: pipeline.VulnConfig{DBDir: vulndb.SampleName}, NoCache: true, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		src := p.SourceOptions()
		src.PlainHTTP = true
		direct, _, err := p.ScanWith(context.Background(), ref, src)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := findingIDs(&rep), findingIDs(direct); got != want {
			t.Errorf("stored report's findings %s, a direct scan's %s", got, want)
		}
		sarif := ts.get(t, "/api/v1/images/"+digest+"/report?format=sarif")
		schematest.Validate(t, schematest.SARIFURL, sarif)

		var adv struct {
			Images []store.Image `json:"images"`
		}
		if code := ts.call(t, "GET", "/api/v1/vulnerabilities/cve-2023-4911/images", ts.read, nil, &adv); code != 200 || len(adv.Images) != 1 || adv.Images[0].Digest != digest {
			t.Errorf("images with CVE-2023-4911: %d %+v", code, adv)
		}

		// Queued again: a second scan of the digest, kept in its history.
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &queued); code != 202 {
			t.Fatal(code)
		}
		ts.wait(t, queued.ID)
		var hist struct {
			Scans []store.ScanInfo `json:"scans"`
		}
		if code := ts.call(t, "GET", "/api/v1/images/"+digest+"/scans", ts.read, nil, &hist); code != 200 || len(hist.Scans) != 2 || hist.Scans[0].LayersCached == 0 {
			t.Errorf("history: %d %+v", code, hist)
		}
		// History is kept to KeepScans per image, the latest always.
		ts.cfg.KeepScans = 1
		ts.prune(context.Background())
		if code := ts.call(t, "GET", "/api/v1/images/"+digest+"/scans", ts.read, nil, &hist); code != 200 || len(hist.Scans) != 1 {
			t.Errorf("history after pruning to 1: %d %+v", code, hist)
		}
		metrics := string(ts.get(t, "/metrics"))
		for _, m := range []string{`customs_scans_total{outcome="findings"} 2`, "customs_images{worst=", "customs_queue_jobs", "customs_scan_duration_seconds_count 2"} {
			if !strings.Contains(metrics, m) {
				t.Errorf("metrics lack %s", m)
			}
		}
	})
}

func (ts *testServer) get(t *testing.T, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+ts.read)
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func findingIDs(r *report.Report) string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, string(f.Class)+":"+f.ID)
	}
	return strings.Join(ids, ",")
}

// TestCancel: a scan that cannot reach its registry is retried until
// canceled, and then says so.
func TestCancel(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		var queued ScanStatus
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: "127.0.0.1:1/none/here:1", PlainHTTP: true}, &queued); code != 202 {
			t.Fatal(code)
		}
		var st ScanStatus
		for deadline := time.Now().Add(time.Minute); st.Error == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			ts.call(t, "GET", fmt.Sprintf("/api/v1/scans/%d", queued.ID), ts.read, nil, &st)
		}
		if st.Status != StatusQueued || st.Error == "" {
			t.Fatalf("a failing scan: %+v, want queued for a retry with its error", st)
		}
		if code := ts.call(t, "DELETE", fmt.Sprintf("/api/v1/scans/%d", queued.ID), ts.admin, nil, &st); code != 200 || st.Status != StatusCanceled {
			t.Fatalf("cancel: %d %+v", code, st)
		}
		if code := ts.call(t, "GET", "/api/v1/scans/999999", ts.read, nil, nil); code != 404 {
			t.Errorf("unknown scan: %d", code)
		}
	})
}

// TestRestart: scans queued when the server stops run when it starts
// again.
func TestRestart(t *testing.T) {
	reg := registry(t)
	ref := reg + "/team/restart:1"
	digest := push(t, ref, vulnerableImage(t, "restart"))
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		dir := t.TempDir()
		// A process that only queues: its workers never start.
		s, err := New(ctx, newConfig(dir, dsn))
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.jobs.Insert(ctx, ScanArgs{Image: ref, PlainHTTP: true, Reason: "manual"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		ts := start(t, dir, dsn)
		if st := ts.wait(t, res.Job.ID); st.Status != StatusSucceeded || st.Digest != digest {
			t.Fatalf("after restart: %+v", st)
		}
	})
}

func TestCheckListen(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "localhost:1": true, "[::1]:1": true, "0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false} {
		if err := CheckListen(addr, false, false); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
		if err := CheckListen(addr, true, false); err != nil {
			t.Errorf("%s with TLS: %v", addr, err)
		}
	}
}

// TestScanUnique: a scan waiting for an image is not queued again for
// another reason; other settings make another scan.
func TestScanUnique(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s, err := New(ctx, newConfig(t.TempDir(), dsn))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		first, err := s.jobs.Insert(ctx, ScanArgs{Image: "registry.example.com/a:1", Reason: "manual"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for args, dup := range map[ScanArgs]bool{
			{Image: "registry.example.com/a:1", Reason: "push"}:                  true,
			{Image: "registry.example.com/a:1", Reason: "push", PlainHTTP: true}: false,
			{Image: "registry.example.com/b:1", Reason: "manual"}:                false,
			{Image: "registry.example.com/a:1", Reason: "harbor", AuthID: "x"}:   false,
		} {
			res, err := s.jobs.Insert(ctx, args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.UniqueSkippedAsDuplicate != dup || (dup && res.Job.ID != first.Job.ID) {
				t.Errorf("%+v: duplicate %v (job %d), want %v", args, res.UniqueSkippedAsDuplicate, res.Job.ID, dup)
			}
		}
	})
}
