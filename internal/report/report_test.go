package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report/schematest"
)

const (
	diff0 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	diff1 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// sampleReport is a report as a scan of a Debian image with an application
// layer would produce it: OS and language packages, and a finding of every
// class.
func sampleReport() *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "customs", Version: "1.2.3"},
		CreatedAt:     time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Artifact: Artifact{
			Input:  "registry.example.com:5000/team/app:1.0",
			Source: "registry",
			Name:   "registry.example.com:5000/team/app:1.0",
			Digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			OS:     &model.OS{Family: "debian", Version: "12", Codename: "bookworm", Name: "Debian GNU/Linux 12 (bookworm)"},
			Layers: []model.Layer{
				{Index: 0, Digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", DiffID: diff0, CreatedBy: "# debian.sh --arch 'amd64' out/ 'bookworm'", Size: 29123456},
				{Index: 1, DiffID: diff1, CreatedBy: "COPY app /app", Size: 4096},
			},
			Architecture: "amd64",
		},
		Packages: []model.Package{
			{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: model.TypeDeb, Arch: "amd64",
				PURL:       "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
				SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", LayerDiffID: diff0, Path: "var/lib/dpkg/status",
				Metadata: map[string]string{"maintainer": "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>"}},
			{Name: "bash", Version: "5.2.15-2+b2", Type: model.TypeDeb, Arch: "amd64",
				PURL:       "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12",
				SourceName: "bash", SourceVersion: "5.2.15-2", Licenses: []string{"GPL-3+"}, LayerDiffID: diff0, Path: "var/lib/dpkg/status"},
			{Name: "@babel/core", Version: "7.23.2", Type: model.TypeNPM, PURL: "pkg:npm/%40babel/core@7.23.2",
				Licenses: []string{"MIT"}, LayerDiffID: diff1, Path: "app/node_modules/@babel/core/package.json",
				Locations: []string{"app/package-lock.json"}},
			{Name: "requests", Version: "2.28.1", Type: model.TypePyPI, PURL: "pkg:pypi/requests@2.28.1",
				Licenses: []string{"Apache 2.0"}, LayerDiffID: diff1, Path: "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA"},
			{Name: "golang.org/x/net", Version: "v0.17.0", Type: model.TypeGolang, PURL: "pkg:golang/golang.org/x/net@v0.17.0",
				Licenses: []string{"BSD-3-Clause", "MIT OR Apache-2.0"}, LayerDiffID: diff1, Path: "app/server"},
			{Name: "example.com/app", Version: "(devel)", Type: model.TypeGolang, PURL: "pkg:golang/example.com/app",
				LayerDiffID: diff1, Path: "app/server", Metadata: map[string]string{"go_main_module": "true"}},
			{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Type: model.TypeMaven,
				PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", LayerDiffID: diff1, Path: "app/lib/log4j-core-2.14.1.jar"},
		},
		Findings: []model.Finding{
			{Class: model.ClassVulnerability, ID: "CVE-2023-5678", Title: "openssl: Generating excessively long X9.42 DH keys is slow",
				Severity: model.Medium, Package: &model.PackageRef{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: model.TypeDeb,
					PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", SourceName: "openssl"},
				InstalledVersion: "3.0.11-1~deb12u2", FixedVersion: "3.0.13-1~deb12u1", LayerDiffID: diff0, Path: "var/lib/dpkg/status",
				Aliases:    []string{"CVE-2023-5678", "DSA-5585-1"},
				References: []string{"https://security-tracker.debian.org/tracker/CVE-2023-5678"},
				Extra: map[string]string{ExtraCVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", ExtraCVSSScore: "5.3",
					ExtraSeveritySource: "cvss_v3"}},
			{Class: model.ClassVulnerability, ID: "CVE-2021-44228", Title: "log4j-core: remote code execution via JNDI lookups",
				Severity: model.Critical, Package: &model.PackageRef{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1",
					Type: model.TypeMaven, PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
				InstalledVersion: "2.14.1", FixedVersion: "2.15.0", LayerDiffID: diff1, Path: "app/lib/log4j-core-2.14.1.jar",
				Aliases: []string{"GHSA-jfh8-c2jp-5v3q"},
				Extra:   map[string]string{ExtraCVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", ExtraCVSSScore: "10.0"}},
			{Class: model.ClassVulnerability, ID: "GO-2023-2102", Title: "HTTP/2 rapid reset can cause excessive work in net/http",
				Severity: model.High, Package: &model.PackageRef{Name: "golang.org/x/net", Version: "v0.17.0", Type: model.TypeGolang,
					PURL: "pkg:golang/golang.org/x/net@v0.17.0"}, InstalledVersion: "v0.17.0", Path: "app/server",
				Extra: map[string]string{ExtraSeveritySource: "ghsa"}},
			{Class: model.ClassMalware, ID: "Unix.Trojan.Mirai-7100807-0", Title: "Mirai trojan", Severity: model.Critical,
				Path: "tmp/.x/kworker", LayerDiffID: diff1, RemovedInFinal: true, Match: "Unix.Trojan.Mirai-7100807-0",
				Extra: map[string]string{"engine": "clamav", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
			{Class: model.ClassSecret, ID: "aws-access-token", Title: "AWS access key", Severity: model.High,
				Path: "app/.env", Line: 3, LayerDiffID: diff1, Match: "AKIA************MPLE"},
			{Class: model.ClassSecret, ID: "generic-password", Title: "Password in ENV", Severity: model.High,
				Location: "config.Env[DB_PASSWORD]", Match: "hu****"},
			{Class: model.ClassMisconfiguration, ID: "no-user", Title: "Image runs as root: no USER", Severity: model.Medium, Location: "config.User"},
			{Class: model.ClassRegistry, ID: "plain-http", Title: "Registry reached over plain HTTP", Severity: model.High, Location: "registry.example.com:5000"},
			{Class: model.ClassIntegrity, ID: "unsigned", Title: "Image has no signature", Severity: model.Low, Location: "manifest"},
			{Class: model.ClassArchive, ID: "path-traversal", Title: "Layer entry escapes the image root", Severity: model.High,
				Path: "etc/passwd", Location: "../../etc/passwd", LayerDiffID: diff1},
			{Class: model.ClassMisconfiguration, ID: "ssh-server", Title: "SSH server installed", Severity: ""},
		},
		Warnings: []string{"layer sha256:2222: app/package.json: malformed JSON"},
	}
	r.Summarize()
	return r
}

func write(t *testing.T, format string, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, r); err != nil {
		t.Fatalf("write %s: %v", format, err)
	}
	return buf.Bytes()
}

func TestJSONReportMatchesSchema(t *testing.T) {
	r := sampleReport()
	out := write(t, "json", r)
	schematest.Validate(t, schematest.ReportURL, out)

	// An empty report (a root filesystem with nothing recognised) too.
	empty := &Report{SchemaVersion: SchemaVersion, Tool: Tool{Name: "customs", Version: "dev"}, CreatedAt: r.CreatedAt,
		Artifact: Artifact{Input: "./rootfs", Source: "rootfs"}}
	empty.Summarize()
	schematest.Validate(t, schematest.ReportURL, write(t, "json", empty))

	var back Report
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary.ByClass["vulnerability"] != 3 || back.Summary.BySeverity["UNKNOWN"] != 1 || back.Summary.Findings != len(r.Findings) {
		t.Errorf("summary = %+v", back.Summary)
	}
}

func TestSchemaRejectsWrongReports(t *testing.T) {
	for name, mutate := range map[string]func(m map[string]any){
		"unknown class":    func(m map[string]any) { m["findings"].([]any)[0].(map[string]any)["class"] = "virus" },
		"unknown severity": func(m map[string]any) { m["findings"].([]any)[0].(map[string]any)["severity"] = "SEVERE" },
		"unknown type":     func(m map[string]any) { m["packages"].([]any)[0].(map[string]any)["type"] = "debian" },
		"no diff_id": func(m map[string]any) {
			delete(m["artifact"].(map[string]any)["layers"].([]any)[0].(map[string]any), "diff_id")
		},
		"extra field": func(m map[string]any) { m["score"] = 1 },
	} {
		var m map[string]any
		if err := json.Unmarshal(write(t, "json", sampleReport()), &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		b, _ := json.Marshal(m)
		if schematest.Check(schematest.ReportURL, b) == nil {
			t.Errorf("%s: schema accepted the report", name)
		}
	}
}

func TestTable(t *testing.T) {
	out := string(write(t, "table", sampleReport()))
	for _, want := range []string{
		"registry.example.com:5000/team/app:1.0 (registry)\n",
		"OS:     Debian GNU/Linux 12 (bookworm)\n",
		"Layers: 2   Packages: 7   Findings: 11 (CRITICAL: 2, HIGH: 5, MEDIUM: 2, LOW: 1, UNKNOWN: 1)\n",
		"\nVULNERABILITY (3)\n",
		// vulnerabilities under their package, the most severe package first
		"\nVULNERABILITY (3)\n\norg.apache.logging.log4j:log4j-core 2.14.1 (maven) /app/lib/log4j-core-2.14.1.jar\n",
		"\nlibssl3 3.0.11-1~deb12u2 (deb, source openssl) /var/lib/dpkg/status\n" +
			"  SEVERITY  ID             INSTALLED -> FIXED                    TITLE\n" +
			"  MEDIUM    CVE-2023-5678  3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1  openssl: Generating excessively long X9.42 DH keys is slow\n",
		"  HIGH      GO-2023-2102  v0.17.0 -> (no fix yet)",
		"/tmp/.x/kworker (removed)",
		"/app/.env:3",
		"config.Env[DB_PASSWORD]",
		"\nPACKAGES (7)\n",
		"warning: layer sha256:2222: app/package.json: malformed JSON\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Package rows: type, name, version, source (with its version when it differs), path.
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			rows[f[1]] = f
		}
	}
	for name, want := range map[string][]string{
		"libssl3":  {"deb", "libssl3", "3.0.11-1~deb12u2", "openssl", "var/lib/dpkg/status"},
		"bash":     {"deb", "bash", "5.2.15-2+b2", "bash", "5.2.15-2", "var/lib/dpkg/status"},
		"requests": {"pypi", "requests", "2.28.1", "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA"},
	} {
		if got := strings.Join(rows[name], " "); got != strings.Join(want, " ") {
			t.Errorf("row %s = %q, want %q", name, got, strings.Join(want, " "))
		}
	}
}
