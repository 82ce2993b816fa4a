package harbor

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/report/schematest"
)

const testDigest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMetadata(t *testing.T) {
	updated := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	m := NewMetadata(Info{Version: "1.2.3", DBUpdated: updated})
	schematest.Validate(t, schematest.HarborMetadata, marshal(t, m))
	if m.Scanner.Name != "customs" || m.Scanner.Version != "1.2.3" {
		t.Errorf("scanner %+v", m.Scanner)
	}
	if len(m.Capabilities) != 2 {
		t.Fatalf("capabilities %+v", m.Capabilities)
	}
	vuln, sbom := m.Capabilities[0], m.Capabilities[1]
	if vuln.Type != CapabilityVulnerability || !slices.Contains(vuln.ProducesMimeTypes, MimeVulnReport) || !slices.Contains(vuln.ProducesMimeTypes, MimeRawReport) {
		t.Errorf("vulnerability capability %+v", vuln)
	}
	if sbom.Type != CapabilitySBOM || !slices.Equal(sbom.ProducesMimeTypes, []string{MimeSBOMReport}) ||
		!slices.Equal(sbom.AdditionalAttributes["sbom_media_types"], []string{MediaSPDX, MediaCycloneDX}) {
		t.Errorf("sbom capability %+v", sbom)
	}
	for _, c := range m.Capabilities {
		if !slices.Equal(c.ConsumesMimeTypes, []string{MimeOCIManifest, MimeDockerManifest}) {
			t.Errorf("%s consumes %v", c.Type, c.ConsumesMimeTypes)
		}
	}
	if m.Properties["harbor.scanner-adapter/vulnerability-database-updated-at"] != "2026-12-01T08:00:00Z" ||
		m.Properties["org.label-schema.version"] != "1.2.3" || m.Properties["harbor.scanner-adapter/scanner-type"] == "" {
		t.Errorf("properties %v", m.Properties)
	}
	if _, ok := NewMetadata(Info{Version: "1"}).Properties["harbor.scanner-adapter/vulnerability-database-updated-at"]; ok {
		t.Error("an update time without a database")
	}
}

func request(url, auth, repo, digest, tag, mt string) []byte {
	b, _ := json.Marshal(ScanRequest{Registry: Registry{URL: url, Authorization: auth}, Artifact: Artifact{Repository: repo, Digest: digest, Tag: tag, MimeType: mt}})
	return b
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestParseScanRequest(t *testing.T) {
	good := request("https://core.harbor.domain", basic("robot$scanner", "s3cr:et"), "library/mongo", testDigest, "3.14", MimeDockerManifest)
	schematest.Validate(t, schematest.HarborScanRequest, good)
	tg, err := ParseScanRequest(good)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Image != "core.harbor.domain/library/mongo@"+testDigest || tg.PlainHTTP || tg.Username != "robot$scanner" || tg.Password != "s3cr:et" ||
		tg.Token != "" || tg.Artifact.Tag != "3.14" || !tg.HasCredentials() {
		t.Errorf("target %+v", tg)
	}
	tg, err = ParseScanRequest(request("http://harbor-core:8080/", "Bearer eyJhbGciOi.x.y", "proj/app", testDigest, "", MimeOCIManifest))
	if err != nil {
		t.Fatal(err)
	}
	if tg.Image != "harbor-core:8080/proj/app@"+testDigest || !tg.PlainHTTP || tg.Token != "eyJhbGciOi.x.y" || tg.Username != "" {
		t.Errorf("target %+v", tg)
	}
	tg, err = ParseScanRequest(request("https://r.example", "", "a/b", testDigest, "", ""))
	if err != nil || tg.HasCredentials() {
		t.Errorf("no authorization: %+v %v", tg, err)
	}
	withCaps := []byte(`{"registry":{"url":"https://r.example"},"artifact":{"repository":"a","digest":"` + testDigest + `"},
		"enabled_capabilities":[{"type":"vulnerability","produces_mime_types":["application/vnd.security.vulnerability.report;version=1.1"]},
		{"type":"sbom","produces_mime_types":["` + MimeSBOMReport + `"],"parameters":{"sbom_media_types":["` + MediaCycloneDX + `"]}}]}`)
	schematest.Validate(t, schematest.HarborScanRequest, withCaps)
	if _, err := ParseScanRequest(withCaps); err != nil {
		t.Errorf("capabilities: %v", err)
	}

	for _, c := range []struct {
		name string
		body []byte
		want error
	}{
		{"not json", []byte(`registry`), ErrBadRequest},
		{"array", []byte(`[]`), ErrBadRequest},
		{"wrong type", []byte(`{"registry":{"url":1}}`), ErrBadRequest},
		{"too big", append([]byte(`{"x":"`), make([]byte, MaxRequest)...), ErrBadRequest},
		{"no url", request("", "", "a", testDigest, "", ""), ErrInvalid},
		{"ftp url", request("ftp://r.example", "", "a", testDigest, "", ""), ErrInvalid},
		{"url path", request("https://r.example/v2", "", "a", testDigest, "", ""), ErrInvalid},
		{"url user", request("https://u:p@r.example", "", "a", testDigest, "", ""), ErrInvalid},
		{"url query", request("https://r.example?x=1", "", "a", testDigest, "", ""), ErrInvalid},
		{"bad scheme", request("https://r.example", "Digest x", "a", testDigest, "", ""), ErrInvalid},
		{"basic not base64", request("https://r.example", "Basic !!", "a", testDigest, "", ""), ErrInvalid},
		{"basic no colon", request("https://r.example", "Basic "+base64.StdEncoding.EncodeToString([]byte("user")), "a", testDigest, "", ""), ErrInvalid},
		{"empty bearer", request("https://r.example", "Bearer ", "a", testDigest, "", ""), ErrInvalid},
		{"no repository", request("https://r.example", "", "", testDigest, "", ""), ErrInvalid},
		{"bad repository", request("https://r.example", "", "A/../b", testDigest, "", ""), ErrInvalid},
		{"repository with a digest", request("https://r.example", "", "a@sha256:1", testDigest, "", ""), ErrInvalid},
		{"no digest", request("https://r.example", "", "a", "", "", ""), ErrInvalid},
		{"short digest", request("https://r.example", "", "a", "sha256:abc", "", ""), ErrInvalid},
		{"sha512 digest", request("https://r.example", "", "a", "sha512:"+testDigest[7:]+testDigest[7:], "", ""), ErrInvalid},
		{"bad tag", request("https://r.example", "", "a", testDigest, "no spaces", ""), ErrInvalid},
		{"index", request("https://r.example", "", "a", testDigest, "", "application/vnd.oci.image.index.v1+json"), ErrUnsupported},
		{"unknown capability", []byte(`{"registry":{"url":"https://r.example"},"artifact":{"repository":"a","digest":"` + testDigest + `"},"enabled_capabilities":[{"type":"license"}]}`), ErrUnsupported},
		{"unknown report", []byte(`{"registry":{"url":"https://r.example"},"artifact":{"repository":"a","digest":"` + testDigest + `"},"enabled_capabilities":[{"type":"sbom","produces_mime_types":["text/plain"]}]}`), ErrUnsupported},
		{"unknown sbom", []byte(`{"registry":{"url":"https://r.example"},"artifact":{"repository":"a","digest":"` + testDigest + `"},"enabled_capabilities":[{"type":"sbom","parameters":{"sbom_media_types":["text/xml"]}}]}`), ErrUnsupported},
	} {
		if _, err := ParseScanRequest(c.body); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept, sbom string
		kind         int
		ctype        string
		err          error
	}{
		{"", "", KindVuln, MimeVulnReport, nil},
		{"*/*", "", KindVuln, MimeVulnReport, nil},
		{MimeVulnReport, "", KindVuln, MimeVulnReport, nil},
		{"application/vnd.security.vulnerability.report;version=1.1", "", KindVuln, MimeVulnReport, nil},
		{MimeVulnReportHarbor, "", KindVuln, MimeVulnReportHarbor, nil},
		{MimeRawReport, "", KindRaw, MimeRawReport, nil},
		{"text/html, " + MimeRawReport, "", KindRaw, MimeRawReport, nil},
		{MimeSBOMReport, MediaSPDX, KindSBOM, MimeSBOMReport, nil},
		{MimeSBOMReport, MediaCycloneDX, KindSBOM, MimeSBOMReport, nil},
		{MimeSBOMReport, "", 0, "", ErrBadRequest},
		{MimeSBOMReport, "text/xml", 0, "", ErrBadRequest},
		{"application/vnd.security.vulnerability.report; version=2.0", "", 0, "", ErrUnsupported},
		{"text/html", "", 0, "", ErrUnsupported},
	} {
		w, err := Negotiate(c.accept, c.sbom)
		if !errors.Is(err, c.err) || err == nil && (w.Kind != c.kind || w.ContentType != c.ctype || c.kind == KindSBOM && w.SBOMMedia != c.sbom) {
			t.Errorf("Accept %q sbom %q: %+v %v", c.accept, c.sbom, w, err)
		}
	}
}

// testReport has a finding of every class.
func testReport() *report.Report {
	r := &report.Report{SchemaVersion: report.SchemaVersion, Tool: report.Tool{Name: "customs", Version: "9.9"},
		CreatedAt: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC),
		Artifact:  report.Artifact{Input: "r.example/a@" + testDigest, Source: "registry", Name: "r.example/a@" + testDigest, Digest: testDigest, Layers: []model.Layer{}},
		Packages:  []model.Package{{Name: "libc6", Version: "2.36-9", Type: model.TypeDeb, PURL: "pkg:deb/debian/libc6@2.36-9", Path: "var/lib/dpkg/status"}},
		Findings: []model.Finding{
			{Class: model.ClassVulnerability, ID: "CVE-2023-4911", Title: "glibc: buffer overflow", Description: "A buffer overflow.", Severity: model.High,
				Package:          &model.PackageRef{Name: "libc6", Version: "2.36-9", Type: model.TypeDeb, PURL: "pkg:deb/debian/libc6@2.36-9"},
				InstalledVersion: "2.36-9", FixedVersion: "2.36-9+deb12u3", Aliases: []string{"DSA-5514-1", "CWE-122"},
				References: []string{"https://security-tracker.debian.org/tracker/CVE-2023-4911", "DSA-5514-1"},
				Extra:      map[string]string{"cvss_vector": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "cvss_score": "7.8"}},
			{Class: model.ClassMalware, ID: "EICAR-Test-File", Title: "EICAR test file", Severity: model.Critical, Path: "srv/eicar.com", LayerDiffID: "sha256:aa"},
			{Class: model.ClassSecret, ID: "git-credentials", Title: "Git credentials", Severity: model.High, Path: "root/.git-credentials", Line: 1, Match: "https://ci:Zq****@git.example.com"},
			{Class: model.ClassMisconfiguration, ID: "CIS-4.1", Title: "Image runs as root", Severity: model.Medium, Location: "config.User"},
			{Class: model.ClassRegistry, ID: "plain-http", Title: "Pulled over plain HTTP", Severity: model.Critical},
		},
	}
	r.Summarize()
	return r
}

func TestVulnerabilityReport(t *testing.T) {
	art := Artifact{Repository: "a", Digest: testDigest, Tag: "1", MimeType: MimeOCIManifest}
	vr := VulnerabilityReportOf(testReport(), art, ScannerOf("9.9"))
	schematest.Validate(t, schematest.HarborVulnerabilityReport, marshal(t, vr))
	if vr.Severity != SeverityCritical || vr.Artifact != art || vr.Scanner.Version != "9.9" {
		t.Errorf("report %+v", vr)
	}
	byID := map[string]VulnerabilityItem{}
	for _, it := range vr.Vulnerabilities {
		byID[it.ID] = it
	}
	if len(vr.Vulnerabilities) != 4 {
		t.Errorf("%d entries, want 4 (all but the registry finding)", len(vr.Vulnerabilities))
	}
	if v := byID["CVE-2023-4911"]; v.Package != "libc6" || v.Version != "2.36-9" || v.FixVersion != "2.36-9+deb12u3" || v.Severity != SeverityHigh ||
		v.PreferredCVSS == nil || *v.PreferredCVSS.ScoreV3 != 7.8 || !slices.Equal(v.CWEIDs, []string{"CWE-122"}) ||
		!slices.Equal(v.Links, []string{"https://security-tracker.debian.org/tracker/CVE-2023-4911"}) || v.VendorAttributes["class"] != "vulnerability" {
		t.Errorf("vulnerability %+v", v)
	}
	if m := byID["EICAR-Test-File"]; m.Package != "srv/eicar.com" || m.Severity != SeverityCritical || m.VendorAttributes["class"] != "malware" {
		t.Errorf("malware %+v", m)
	}
	if s := byID["git-credentials"]; s.Package != "root/.git-credentials" || s.Severity != SeverityHigh || s.VendorAttributes["line"] != "1" {
		t.Errorf("secret %+v", s)
	}
	if c := byID["CIS-4.1"]; c.Package != "config.User" || c.Severity != SeverityMedium || c.Description != "Image runs as root" {
		t.Errorf("misconfiguration %+v", c)
	}
	clean := testReport()
	clean.Findings = clean.Findings[4:]
	vr = VulnerabilityReportOf(clean, art, ScannerOf("9.9"))
	schematest.Validate(t, schematest.HarborVulnerabilityReport, marshal(t, vr))
	if vr.Severity != SeverityUnknown || len(vr.Vulnerabilities) != 0 {
		t.Errorf("clean report %+v", vr)
	}
}

func TestSBOMReport(t *testing.T) {
	art := Artifact{Repository: "a", Digest: testDigest}
	for media, schema := range map[string]string{MediaCycloneDX: schematest.CycloneDXURL, MediaSPDX: schematest.SPDXURL} {
		sb, err := SBOMReportOf(testReport(), art, ScannerOf("9.9"), media)
		if err != nil {
			t.Fatal(err)
		}
		schematest.Validate(t, schematest.HarborSBOMReport, marshal(t, sb))
		schematest.Validate(t, schema, sb.SBOM)
		if sb.MediaType != media {
			t.Errorf("media type %s, want %s", sb.MediaType, media)
		}
	}
}

func TestErrorEnvelope(t *testing.T) {
	var e ErrorResponse
	e.Error.Message = "boom"
	schematest.Validate(t, schematest.HarborErrorResponse, marshal(t, e))
	if string(marshal(t, e)) != `{"error":{"message":"boom"}}` {
		t.Errorf("envelope %s", marshal(t, e))
	}
}

func TestAddVerdict(t *testing.T) {
	clean := testReport()
	clean.Findings = nil
	vr := VulnerabilityReportOf(clean, Artifact{Digest: testDigest}, ScannerOf("1"))
	AddVerdict(&vr, model.Verdict{Action: model.ActionWarn, Rule: "stale", Reason: "old scan"})
	if len(vr.Vulnerabilities) != 0 || vr.Severity != SeverityUnknown {
		t.Errorf("a warning changed the report: %+v", vr)
	}
	AddVerdict(&vr, model.Verdict{Action: model.ActionDeny, Rule: "no-root", Reason: "the image runs as root", Policy: "prod@sha256:ab"})
	schematest.Validate(t, schematest.HarborVulnerabilityReport, marshal(t, vr))
	if len(vr.Vulnerabilities) != 1 || vr.Severity != SeverityCritical {
		t.Fatalf("deny: %+v", vr)
	}
	if it := vr.Vulnerabilities[0]; it.ID != "customs-policy:no-root" || it.VendorAttributes["class"] != PolicyClass ||
		it.VendorAttributes["policy"] != "prod@sha256:ab" || !strings.Contains(it.Description, "the image runs as root") {
		t.Errorf("entry %+v", it)
	}
}
