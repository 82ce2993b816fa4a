package match

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/osv-scalibr/semantic"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// importDB builds a real database from record files and directories
// through the import path.
func importDB(t *testing.T, paths ...string) *vulndb.DB {
	t.Helper()
	dir := t.TempDir()
	if _, err := vulndb.Import(context.Background(), dir, paths); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var (
	sampleDir    = filepath.Join("..", "vulndb", "testdata", "osv")
	syntheticDir = filepath.Join("..", "vulndb", "testdata", "synthetic")
	// the newest "modified" of the Debian:12 records of sampleDir and
	// testdata/synthetic (TEST-BAD-RANGE-1)
	debian12Modified = "2024-01-01T00:00:00Z"
)

func rowsByName(t *testing.T, res *Result, pkgs int) map[string]model.EcosystemCoverage {
	t.Helper()
	m := map[string]model.EcosystemCoverage{}
	total := 0
	for _, c := range res.Coverage {
		if _, dup := m[c.Ecosystem]; dup {
			t.Errorf("two rows for %s", c.Ecosystem)
		}
		m[c.Ecosystem] = c
		total += c.Packages
		if c.Status != model.CoverageUnsupported && c.Packages != c.Matched+c.UnparsableVersions+c.Unversioned {
			t.Errorf("%s: %d packages, %d matched + %d unparsable + %d unversioned", c.Ecosystem, c.Packages, c.Matched, c.UnparsableVersions, c.Unversioned)
		}
		if c.Status == model.CoverageUnsupported && (c.Matched != 0 || c.Reason == "") {
			t.Errorf("%s: unsupported row %+v", c.Ecosystem, c)
		}
		if c.Usable() != (c.Status == model.CoverageOK) {
			t.Errorf("%s: Usable %v with status %s", c.Ecosystem, c.Usable(), c.Status)
		}
	}
	if total != pkgs {
		t.Errorf("coverage rows count %d packages, the inventory has %d", total, pkgs)
	}
	return m
}

func TestRunCoverage(t *testing.T) {
	db := importDB(t, sampleDir, syntheticDir, filepath.Join("testdata", "synthetic"))
	debian12 := &model.OS{Family: "debian", Version: "12", Name: "Debian GNU/Linux 12 (bookworm)"}
	pkgs := []model.Package{
		{Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", Type: model.TypeDeb},
		{Name: "libssl3", Version: "3.0.11-1~deb12u2", SourceName: "openssl", Type: model.TypeDeb},
		{Name: "libweird", Version: "x:1.0-1", SourceName: "glibc", Type: model.TypeDeb},
		{Name: "badrange-bin", Version: "1.0-1", SourceName: "badrange", Type: model.TypeDeb},
		{Name: "stdlib", Version: "1.21.2", Type: model.TypeGolang},
		{Name: "example.com/app", Version: "(devel)", Type: model.TypeGolang},
		{Name: "lodash", Version: "4.17.11", Type: model.TypeNPM},
		{Name: "smallvec", Version: "1.4.2", Type: model.TypeCargo},
		{Name: "Newtonsoft.Json", Version: "12.0.1", Type: model.TypeNuGet},
		{Name: "busybox", Version: "1.36.1", Type: "binary"},
	}
	res, err := Run(context.Background(), db, debian12, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	rows := rowsByName(t, res, len(pkgs))
	type want struct {
		packages, matched, vulnerable, records, unparsableVersions, unversioned, unparsableRanges int
		status                                                                                    string
	}
	wants := map[string]want{
		// DSA-5514-1, DSA-5532-1, TEST-BAD-RANGE-1 name Debian:12.
		"Debian:12": {4, 3, 1, 3, 1, 0, 1, model.CoverageOK},
		// GO-2023-2102 and GHSA-4374-p667-p6c8.
		"Go": {2, 1, 1, 2, 0, 1, 0, model.CoverageOK},
		// GHSA-jf85-cpcp-j695, MAL-2022-9; the withdrawn TEST-WITHDRAWN-1 is not counted.
		"npm":       {1, 1, 1, 2, 0, 0, 0, model.CoverageOK},
		"crates.io": {1, 1, 1, 1, 0, 0, 0, model.CoverageOK},
		"NuGet":     {1, 1, 0, 0, 0, 0, 0, model.CoverageNoData},
		"binary":    {1, 0, 0, 0, 0, 0, 0, model.CoverageUnsupported},
	}
	if len(rows) != len(wants) {
		t.Errorf("rows %+v", res.Coverage)
	}
	for eco, w := range wants {
		c, ok := rows[eco]
		if !ok {
			t.Errorf("no row for %s", eco)
			continue
		}
		got := want{c.Packages, c.Matched, c.Vulnerable, c.Records, c.UnparsableVersions, c.Unversioned, c.UnparsableRanges, c.Status}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", eco, got, w)
		}
		if c.Status == model.CoverageOK && c.Updated == "" {
			t.Errorf("%s: no update time", eco)
		}
	}
	// the newest "modified" of the Debian:12 records
	if u := rows["Debian:12"].Updated; u != debian12Modified {
		t.Errorf("Debian:12 updated %q, want %q", u, debian12Modified)
	}
	// One line per ecosystem that was not fully matched, saying what and how many.
	wantWarnings := map[string][]string{
		"Debian:12: ": {"1 package with an installed version that does not parse as a Debian version", `glibc "x:1.0-1"`,
			"1 version range of advisory records could not be evaluated", `TEST-BAD-RANGE-1 for badrange: fixed "x:1.0-2"`},
		"Go: ":     {"1 package without a version or a development build", `example.com/app "(devel)"`},
		"NuGet: ":  {"no advisory record", "1 package not checked"},
		"binary: ": {"customs has no advisory source for binary packages", "1 package not matched"},
	}
	if len(res.Warnings) != len(wantWarnings) {
		t.Errorf("warnings:\n%s", strings.Join(res.Warnings, "\n"))
	}
	for prefix, parts := range wantWarnings {
		found := false
		for _, w := range res.Warnings {
			if strings.HasPrefix(w, prefix) {
				found = true
				for _, p := range parts {
					if !strings.Contains(w, p) {
						t.Errorf("warning %q does not say %q", w, p)
					}
				}
			}
		}
		if !found {
			t.Errorf("no warning for %s in %q", prefix, res.Warnings)
		}
	}
	if ids := byID(res.Findings); len(res.Findings) != 4 || ids["CVE-2023-4911"].Package == nil || ids["CVE-2019-10744"].ID == "" || ids["CVE-2023-39325"].ID == "" || ids["TEST-LAST-AFFECTED-1"].ID == "" {
		t.Errorf("findings %+v", res.Findings)
	}
	// Match is the findings of Run.
	fs, err := Match(context.Background(), db, debian12, pkgs)
	if err != nil || len(fs) != len(res.Findings) {
		t.Errorf("Match: %v, %d findings", err, len(fs))
	}
}

// OS packages of distributions customs has no advisory source for are one
// unsupported row named after the OS, never silently unmatched.
func TestRunUnsupportedOS(t *testing.T) {
	db := importDB(t, sampleDir)
	rpms := []model.Package{
		{Name: "glibc", Version: "2.17-326.el7_9", Type: model.TypeRPM},
		{Name: "openssl-libs", Version: "1:1.0.2k-26.el7_9", Type: model.TypeRPM},
		{Name: "requests", Version: "2.30.0", Type: model.TypePyPI},
	}
	for _, c := range []struct {
		os     *model.OS
		pkgs   []model.Package
		row    string
		reason string
	}{
		{&model.OS{Family: "centos", Version: "7"}, rpms, "centos 7", "no advisory source for centos 7"},
		{&model.OS{Family: "amzn", Version: "2023", Name: "Amazon Linux 2023"}, rpms, "amzn 2023", "no advisory source for Amazon Linux 2023"},
		{&model.OS{Family: "fedora", Version: "39"}, rpms, "fedora 39", "no advisory source for fedora 39"},
		{&model.OS{Family: "ol", Version: "9"}, rpms, "ol 9", "no advisory source for ol 9"},
		{&model.OS{Family: "photon", Version: "5.0"}, rpms, "photon 5.0", "no advisory source for photon 5.0"},
		{nil, []model.Package{{Name: "libc6", Version: "2.36-9", SourceName: "glibc", Type: model.TypeDeb}, rpms[2]}, "unknown OS", "no operating system was identified"},
		{&model.OS{Family: "debian"}, []model.Package{{Name: "libc6", Version: "2.36-9", SourceName: "glibc", Type: model.TypeDeb}, rpms[2]}, "debian", "without a usable VERSION_ID"},
		{&model.OS{Family: "debian", Version: "12"}, []model.Package{rpms[0], rpms[2]}, "debian 12 rpm", "customs matches only deb packages there"},
	} {
		res, err := Run(context.Background(), db, c.os, c.pkgs)
		if err != nil {
			t.Fatal(err)
		}
		rows := rowsByName(t, res, len(c.pkgs))
		r, ok := rows[c.row]
		if !ok || r.Status != model.CoverageUnsupported || r.Packages != len(c.pkgs)-1 || !strings.Contains(r.Reason, c.reason) {
			t.Errorf("%s: row %+v in %+v", c.row, r, res.Coverage)
		}
		if p := rows["PyPI"]; p.Status != model.CoverageOK || p.Matched != 1 || p.Vulnerable != 1 || p.Records != 1 {
			t.Errorf("%s: PyPI row %+v", c.row, p)
		}
		if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], c.row+": ") || !strings.Contains(res.Warnings[0], "not matched") {
			t.Errorf("%s: warnings %q", c.row, res.Warnings)
		}
	}
}

// Debian's DSA records carry no CVSS vector: the severity comes from the
// CVE record the database holds for the CVE they fix (osv.dev's CVE records
// name no package), else from Debian's urgency, else it is UNKNOWN.
func TestAliasSeverity(t *testing.T) {
	ctx := context.Background()
	debian12 := &model.OS{Family: "debian", Version: "12"}
	libc := model.Package{Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", Type: model.TypeDeb}
	stdlib := model.Package{Name: "stdlib", Version: "1.21.2", Type: model.TypeGolang}
	dsa := filepath.Join(sampleDir, "DSA-5514-1.json")
	cve := filepath.Join(sampleDir, "CVE-2023-4911.json")
	for _, c := range []struct {
		name     string
		paths    []string
		pkg      model.Package
		id       string
		severity model.Severity
		source   string
		vector   string
		records  int // of the package's ecosystem
	}{
		{"DSA with the CVE record", []string{dsa, cve}, libc, "CVE-2023-4911", model.High, "alias:CVE-2023-4911/cvss_v3", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 1},
		{"DSA alone", []string{dsa}, libc, "CVE-2023-4911", model.Unknown, "", "", 1},
		{"Debian urgency", []string{filepath.Join("testdata", "real", "DEBIAN-CVE-2010-4756.json")}, libc, "CVE-2010-4756", model.Low, "debian", "", 1},
		// GO-2023-2102 has no vector; GHSA-4374-p667-p6c8, one of its aliases,
		// names golang.org/x/net only but rates the weakness (A:H = 7.5).
		{"alias of another package", []string{filepath.Join(sampleDir, "GO-2023-2102.json"), filepath.Join(sampleDir, "GHSA-4374-p667-p6c8.json")}, stdlib,
			"CVE-2023-39325", model.High, "alias:GHSA-4374-p667-p6c8/cvss_v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Run(ctx, importDB(t, c.paths...), debian12, []model.Package{c.pkg})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings %+v", res.Findings)
			}
			f := res.Findings[0]
			if f.ID != c.id || f.Severity != c.severity || f.Extra["severity_source"] != c.source || f.Extra["cvss_vector"] != c.vector {
				t.Errorf("got %s %s source %q vector %q", f.ID, f.Severity, f.Extra["severity_source"], f.Extra["cvss_vector"])
			}
			if score, ok := ScoreVector(c.vector); ok && f.Extra["cvss_score"] != strconv.FormatFloat(score, 'f', 1, 64) {
				t.Errorf("score %q for %s", f.Extra["cvss_score"], c.vector)
			}
			// The CVE record names no package: it never makes a finding of its
			// own, nor counts for the ecosystem.
			if rows := rowsByName(t, res, 1); len(rows) != 1 || res.Coverage[0].Records != c.records {
				t.Errorf("coverage %+v", res.Coverage)
			}
		})
	}
}

func mustParse(t *testing.T, v, eco string) semantic.Version {
	t.Helper()
	pv, err := semantic.Parse(v, eco)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func TestUnparsableRangeCounted(t *testing.T) {
	ok, _, err := inRange(mustParse(t, "1.0-1", "Debian"), []vulndb.Event{{Introduced: "0"}, {Fixed: "x:1.0-2"}}, "Debian")
	if err == nil || ok || !strings.Contains(err.Error(), `fixed "x:1.0-2"`) {
		t.Errorf("inRange: %v %v", ok, err)
	}
	_, _, bad := affects([]vulndb.Affected{{Ranges: []vulndb.Range{{Type: "ECOSYTEM", Events: []vulndb.Event{{Introduced: "0"}}}}}},
		target{base: "npm", name: "a", version: "1.0.0"}, mustParse(t, "1.0.0", "npm"))
	if len(bad) != 1 || !strings.Contains(bad[0], `range type "ECOSYTEM"`) {
		t.Errorf("unknown range type: %q", bad)
	}
	// A package of the inventory named by the record: one warning, one count.
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "synthetic", "TEST-BAD-RANGE-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "r.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), importDB(t, dir), &model.OS{Family: "debian", Version: "12"}, []model.Package{
		{Name: "a", Version: "1.0-1", SourceName: "badrange", Type: model.TypeDeb},
		{Name: "b", Version: "1.0-1", SourceName: "badrange", Type: model.TypeDeb},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || len(res.Coverage) != 1 || res.Coverage[0].UnparsableRanges != 1 || res.Coverage[0].Status != model.CoverageOK || len(res.Warnings) != 1 {
		t.Errorf("%+v %+v %q", res.Findings, res.Coverage, res.Warnings)
	}
}
