package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/customs-scanner/customs/internal/analyzer/all"
	"github.com/customs-scanner/customs/internal/layer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func TestGateDecide(t *testing.T) {
	finding := []model.Finding{{Class: model.ClassSecret, ID: "x", Severity: model.High}}
	missing := &report.Coverage{Vulnerabilities: report.CoverageNoData, Missing: []string{"no vulnerability database in /x"}}
	for _, c := range []struct {
		name     string
		gate     Gate
		rep      report.Report
		code     int
		wantMiss bool
	}{
		{"off", Gate{}, report.Report{Findings: finding, Coverage: missing}, 0, false},
		{"findings", Gate{ExitCode: 3}, report.Report{Findings: finding, Coverage: &report.Coverage{}}, 3, false},
		{"clean", Gate{ExitCode: 3}, report.Report{Coverage: &report.Coverage{}}, 0, false},
		{"missing data, no findings", Gate{ExitCode: 3}, report.Report{Coverage: missing}, 0, true},
		{"missing data beats findings", Gate{ExitCode: 3}, report.Report{Findings: finding, Coverage: missing}, 0, true},
		{"missing data allowed", Gate{ExitCode: 3, AllowMissingData: true}, report.Report{Coverage: missing}, 0, false},
		{"missing data allowed, findings", Gate{ExitCode: 3, AllowMissingData: true}, report.Report{Findings: finding, Coverage: missing}, 3, false},
		{"incomplete", Gate{ExitCode: 3}, report.Report{Incomplete: true, Warnings: []string{"no vulnerability database in /x"}, Coverage: &report.Coverage{}}, 0, true},
		{"incomplete allowed", Gate{ExitCode: 3, AllowMissingData: true}, report.Report{Incomplete: true, Coverage: &report.Coverage{}}, 0, false},
	} {
		code, err := c.gate.Decide(&c.rep)
		if code != c.code || errors.Is(err, ErrMissingData) != c.wantMiss {
			t.Errorf("%s: code %d, err %v", c.name, code, err)
		}
		if c.wantMiss && !strings.Contains(err.Error(), "no vulnerability database in /x") {
			t.Errorf("%s: error does not say what is missing: %v", c.name, err)
		}
	}
}

func TestGateDecideRegistry(t *testing.T) {
	rep := &registry.ScanReport{Stats: registry.ScanStats{Images: 2}, Images: []registry.ImageResult{{Digest: "sha256:a"}, {Digest: "sha256:b", Missing: []string{"centos 7 (3 packages): no advisory source"}}}}
	if _, err := (Gate{ExitCode: 1}).DecideRegistry(rep); !errors.Is(err, ErrMissingData) || !strings.Contains(err.Error(), "centos 7") {
		t.Errorf("missing data: %v", err)
	}
	if code, err := (Gate{ExitCode: 1, AllowMissingData: true}).DecideRegistry(rep); code != 0 || err != nil {
		t.Errorf("allowed: %d %v", code, err)
	}
	for name, r := range map[string]*registry.ScanReport{
		"nothing scanned": {Registry: "r.example"},
		"tags not listed": {Registry: "r.example", Stats: registry.ScanStats{Images: 1}, Images: []registry.ImageResult{{Digest: "sha256:a"}},
			Errors: []string{"listing tags of team/app: 401 Unauthorized"}},
	} {
		if _, err := (Gate{ExitCode: 1, AllowMissingData: true}).DecideRegistry(r); !errors.Is(err, ErrMissingData) {
			t.Errorf("%s: %v", name, err)
		}
	}
	rep.Stats.Failed = 1
	if _, err := (Gate{}).DecideRegistry(rep); err == nil {
		t.Error("a failed image passed")
	}
}

// TestNewValidatesFirst: a bad setting fails before anything is opened
// or created.
func TestNewValidatesFirst(t *testing.T) {
	ctx := context.Background()
	cacheDir := filepath.Join(t.TempDir(), "cache")
	for _, cfg := range []Config{
		{Policy: PolicyConfig{Severities: []string{"SEVERE"}}},
		{Limits: limitsWith(-1)},
		{Timeout: -1},
		{Scanners: []string{"virus"}},
		{Policy: PolicyConfig{IgnoreFile: filepath.Join(t.TempDir(), "missing.yaml")}},
	} {
		cfg.CacheDir = cacheDir
		if p, err := New(ctx, cfg); err == nil {
			p.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
	if _, err := os.Stat(cacheDir); err == nil {
		t.Error("the cache directory was created by a configuration that was refused")
	}
}

// TestStateVersion: a stored registry-scan result is reused only with the
// same database, analyzers and policy.
func TestStateVersion(t *testing.T) {
	ctx := context.Background()
	version := func(cfg Config) string {
		t.Helper()
		cfg.CacheDir = t.TempDir()
		cfg.Vuln.DBDir = vulndb.SampleName
		p, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		v, err := p.stateVersion(ctx, p.vuln)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := version(Config{})
	if again := version(Config{}); again != base {
		t.Errorf("same settings, versions %s and %s", base, again)
	}
	for name, cfg := range map[string]Config{
		"severity":  {Policy: PolicyConfig{Severities: []string{"HIGH"}}},
		"unfixed":   {Policy: PolicyConfig{IgnoreUnfixed: true}},
		"scanners":  {Scanners: []string{"secret"}},
		"signature": {Pull: PullConfig{VerifySignature: true}},
	} {
		if v := version(cfg); v == base {
			t.Errorf("%s: the state version did not change", name)
		}
	}
}

func limitsWith(maxFile int64) layer.Limits { return layer.Limits{MaxFileBytes: maxFile} }

// TestMatchOSOwned: language packages an OS package installed are left to
// the distribution's advisories, with a coverage row saying so, unless
// --match-os-owned.
func TestMatchOSOwned(t *testing.T) {
	pkgs := []model.Package{
		{Name: "glibc", Type: model.TypeDeb},
		{Name: "requests", Type: model.TypePyPI, OSOwned: true, OSPackage: "python3-requests"},
		{Name: "lodash", Type: model.TypeNPM},
	}
	got, rows := (&vulnSource{}).matchable(pkgs)
	if len(got) != 2 || got[1].Name != "lodash" || len(rows) != 1 || rows[0].Packages != 1 || !rows[0].Usable() || !strings.Contains(rows[0].Ecosystem, "pypi") {
		t.Errorf("default: %+v %+v", got, rows)
	}
	got, rows = (&vulnSource{matchOSOwned: true}).matchable(pkgs)
	if len(got) != 3 || rows != nil {
		t.Errorf("--match-os-owned: %+v %+v", got, rows)
	}
}

// TestReportCache: a rescan of the same image with the same data and
// settings is served whole from the cache, findings and coverage alike;
// the signature check still runs, and other settings scan anew.
func TestReportCache(t *testing.T) {
	ctx := context.Background()
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")),
		testimage.Layer(t, testimage.File("var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\n\n"),
			testimage.File("root/.git-credentials", "https://ci:Zq8vT3mLw9XcR2pY7nKd@git.example.com\n")))
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	scan := func(cfg Config) (*report.Report, LayerStats) {
		t.Helper()
		cfg.CacheDir, cfg.Vuln.DBDir = cacheDir, vulndb.SampleName
		p, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		rep, st, err := p.ScanWith(ctx, dir, p.SourceOptions())
		if err != nil {
			t.Fatal(err)
		}
		return rep, st
	}
	ids := func(r *report.Report) string {
		var out []string
		for _, f := range r.Findings {
			out = append(out, f.ID)
		}
		return strings.Join(out, ",")
	}
	first, st := scan(Config{})
	if st.Walked != 2 || !strings.Contains(ids(first), "CVE-2023-4911") || !strings.Contains(ids(first), "git-credentials") {
		t.Fatalf("first scan: %+v %s", st, ids(first))
	}
	again, st := scan(Config{})
	if st.Walked != 0 || ids(again) != ids(first) || len(again.Coverage.Ecosystems) != len(first.Coverage.Ecosystems) {
		t.Errorf("rescan: %+v %s, want %s", st, ids(again), ids(first))
	}
	// The cached report is written as the scanned one was (the SBOM
	// formats carry a random serial number).
	again.CreatedAt = first.CreatedAt
	for _, format := range []string{"json", "sarif", "table"} {
		var a, b bytes.Buffer
		if err := report.Write(&a, format, first); err != nil {
			t.Fatal(err)
		}
		if err := report.Write(&b, format, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: the cached report differs:\n%s\nwant\n%s", format, b.Bytes(), a.Bytes())
		}
	}
	signed, st := scan(Config{Pull: PullConfig{VerifySignature: true}})
	if !strings.Contains(ids(signed), "integrity-signature-unverifiable") {
		t.Errorf("signature check skipped on a rescan: %s", ids(signed))
	}
	// Another setting: the layers come from the layer cache, the report is
	// made anew.
	skipped, st := scan(Config{Analyzers: all.Config{SkipChecks: map[string]bool{"user-root": true}}})
	if st.Walked != 0 || !strings.Contains(ids(first), "user-root") || strings.Contains(ids(skipped), "user-root") {
		t.Errorf("another setting: %+v %s", st, ids(skipped))
	}
}
