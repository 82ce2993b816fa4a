package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report/schematest"
)

func decodeCycloneDX(t *testing.T, b []byte) *cdx.BOM {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	return &bom
}

func decodeSPDX(t *testing.T, b []byte) *spdx.Document {
	t.Helper()
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func property(ps *[]cdx.Property, name string) []string {
	var out []string
	if ps != nil {
		for _, p := range *ps {
			if p.Name == name {
				out = append(out, p.Value)
			}
		}
	}
	return out
}

func TestCycloneDX(t *testing.T) {
	r := sampleReport()
	out := write(t, "cyclonedx", r)
	schematest.Validate(t, schematest.CycloneDXURL, out)
	bom := decodeCycloneDX(t, out)

	if bom.SpecVersion != cdx.SpecVersion1_6 || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") {
		t.Errorf("spec %v serial %q", bom.SpecVersion, bom.SerialNumber)
	}
	if other := decodeCycloneDX(t, write(t, "cyclonedx", r)); other.SerialNumber == bom.SerialNumber {
		t.Error("two BOMs share a serial number")
	}
	img := bom.Metadata.Component
	if img.Type != cdx.ComponentTypeContainer || img.Name != r.Artifact.Name || img.Version != r.Artifact.Digest {
		t.Errorf("image component %+v", img)
	}
	purl, err := packageurl.FromString(img.PackageURL)
	if err != nil {
		t.Fatal(err)
	}
	q := purl.Qualifiers.Map()
	if purl.Type != "oci" || purl.Namespace != "" || purl.Name != "app" || purl.Version != r.Artifact.Digest ||
		q["repository_url"] != "registry.example.com:5000/team/app" || q["tag"] != "1.0" || q["arch"] != "amd64" || len(q) != 3 {
		t.Errorf("image purl = %s", img.PackageURL)
	}
	if img.BOMRef != img.PackageURL {
		t.Errorf("image bom-ref %s", img.BOMRef)
	}
	if bom.Metadata.Timestamp != "2025-03-04T05:06:07Z" {
		t.Errorf("timestamp %s", bom.Metadata.Timestamp)
	}

	byName := map[string]cdx.Component{}
	refs := map[string]bool{}
	for _, c := range *bom.Components {
		if refs[c.BOMRef] {
			t.Errorf("bom-ref %s used twice", c.BOMRef)
		}
		refs[c.BOMRef] = true
		byName[c.Name] = c
	}
	os := byName["debian"]
	if os.Type != cdx.ComponentTypeOS || os.Version != "12" || os.Description != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("os component %+v", os)
	}
	ssl := byName["libssl3"]
	if ssl.Type != cdx.ComponentTypeLibrary || ssl.Version != "3.0.11-1~deb12u2" {
		t.Errorf("libssl3 component %+v", ssl)
	}
	for name, want := range map[string]string{
		propLayer: diff0, propPath: "var/lib/dpkg/status", propSourceName: "openssl", propSourceVersion: "3.0.11-1~deb12u2",
		propMetadata + "maintainer": "Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>",
	} {
		if got := property(ssl.Properties, name); len(got) != 1 || got[0] != want {
			t.Errorf("libssl3 %s = %q, want %q", name, got, want)
		}
	}
	if got := property(byName["@babel/core"].Properties, propLocation); len(got) != 1 || got[0] != "app/package-lock.json" {
		t.Errorf("@babel/core locations %q", got)
	}

	// Licenses: expressions stay expressions, free text becomes a name.
	for name, want := range map[string]cdx.Licenses{
		"bash":             {{Expression: "GPL-3+"}},
		"@babel/core":      {{Expression: "MIT"}},
		"golang.org/x/net": {{Expression: "BSD-3-Clause AND (MIT OR Apache-2.0)"}},
		"requests":         {{License: &cdx.License{Name: "Apache 2.0"}}},
	} {
		got := byName[name].Licenses
		if got == nil || len(*got) != 1 || (*got)[0].Expression != want[0].Expression ||
			(want[0].License != nil && ((*got)[0].License == nil || (*got)[0].License.Name != want[0].License.Name)) {
			t.Errorf("%s licenses = %+v", name, got)
		}
	}
	if app := byName["example.com/app"]; app.Type != cdx.ComponentTypeApplication || app.Version != "(devel)" {
		t.Errorf("Go main module %+v", app)
	}
	if byName["libssl3"].Licenses != nil {
		t.Errorf("libssl3 has licenses %+v", *byName["libssl3"].Licenses)
	}

	// The image depends on every component.
	deps := *bom.Dependencies
	if len(deps) != 1 || deps[0].Ref != img.BOMRef || len(*deps[0].Dependencies) != len(*bom.Components) {
		t.Errorf("dependencies %+v", deps)
	}

	vulns := map[string]cdx.Vulnerability{}
	for _, v := range *bom.Vulnerabilities {
		vulns[v.ID] = v
	}
	if len(vulns) != 3 {
		t.Fatalf("%d vulnerabilities, want 3 (only the vulnerability findings)", len(vulns))
	}
	v := vulns["CVE-2023-5678"]
	rating := (*v.Ratings)[0]
	if v.Source.Name != "NVD" || rating.Severity != cdx.SeverityMedium || rating.Score == nil || *rating.Score != 5.3 ||
		rating.Method != cdx.ScoringMethodCVSSv31 || rating.Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L" {
		t.Errorf("CVE-2023-5678 rating %+v source %+v", rating, v.Source)
	}
	affects := *v.Affects
	if len(affects) != 1 || affects[0].Ref != ssl.BOMRef || (*affects[0].Range)[0].Version != "3.0.11-1~deb12u2" ||
		(*affects[0].Range)[0].Status != cdx.VulnerabilityStatusAffected {
		t.Errorf("CVE-2023-5678 affects %+v", affects)
	}
	if v.Analysis == nil || (*v.Analysis.Response)[0] != cdx.IARUpdate || !strings.Contains(v.Recommendation, "3.0.13-1~deb12u1") {
		t.Errorf("CVE-2023-5678 analysis %+v recommendation %q", v.Analysis, v.Recommendation)
	}
	if refs := *v.References; len(refs) != 1 || refs[0].ID != "DSA-5585-1" || refs[0].Source.Name != "Debian" {
		t.Errorf("CVE-2023-5678 references %+v", refs)
	}
	if (*v.Advisories)[0].URL != "https://security-tracker.debian.org/tracker/CVE-2023-5678" {
		t.Errorf("advisories %+v", *v.Advisories)
	}
	if r := (*vulns["CVE-2021-44228"].Ratings)[0]; *r.Score != 10 || r.Severity != cdx.SeverityCritical {
		t.Errorf("CVE-2021-44228 rating %+v", r)
	}
	gov := vulns["GO-2023-2102"]
	if (*gov.Ratings)[0].Source.Name != "GitHub" || (*v.Ratings)[0].Source.Name != "NVD" {
		t.Errorf("rating sources %+v %+v", (*gov.Ratings)[0].Source, (*v.Ratings)[0].Source)
	}
	if gov.Source.Name != "Go" || gov.Analysis != nil || (*gov.Ratings)[0].Score != nil || (*gov.Affects)[0].Ref != byName["golang.org/x/net"].BOMRef {
		t.Errorf("GO-2023-2102 %+v", gov)
	}
}

func TestCycloneDXSamePackageTwice(t *testing.T) {
	r := sampleReport()
	dup := r.Packages[2]
	dup.Path = "srv/node_modules/@babel/core/package.json"
	r.Packages = append(r.Packages, dup)
	r.Findings = []model.Finding{{Class: model.ClassVulnerability, ID: "GHSA-67hx-6x53-jw92", Title: "Arbitrary code execution in @babel/traverse",
		Severity: model.Critical, Package: &model.PackageRef{Name: dup.Name, Version: dup.Version, Type: dup.Type, PURL: dup.PURL}}}
	out := write(t, "cyclonedx", r)
	schematest.Validate(t, schematest.CycloneDXURL, out)
	bom := decodeCycloneDX(t, out)
	var babel []string
	for _, c := range *bom.Components {
		if c.Name == dup.Name {
			babel = append(babel, c.BOMRef)
		}
	}
	if len(babel) != 2 || babel[0] == babel[1] {
		t.Fatalf("bom-refs %q", babel)
	}
	v := (*bom.Vulnerabilities)[0]
	if v.Source.Name != "GitHub" || len(*v.Affects) != 2 || (*v.Affects)[0].Ref != babel[0] || (*v.Affects)[1].Ref != babel[1] {
		t.Errorf("vulnerability %+v", v)
	}

	// A finding that names the path of one copy affects that copy only.
	r.Findings[0].Path = dup.Path
	bom = decodeCycloneDX(t, write(t, "cyclonedx", r))
	if v := (*bom.Vulnerabilities)[0]; len(*v.Affects) != 1 || (*v.Affects)[0].Ref != babel[1] {
		t.Errorf("vulnerability in %s affects %+v", dup.Path, *v.Affects)
	}
}

var spdxIDPattern = regexp.MustCompile(`^SPDXRef-[a-zA-Z0-9.-]+$`)

func TestSPDX(t *testing.T) {
	r := sampleReport()
	out := write(t, "spdx", r)
	schematest.Validate(t, schematest.SPDXURL, out)
	doc := decodeSPDX(t, out)
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.CreationInfo.Created != "2025-03-04T05:06:07Z" ||
		doc.CreationInfo.Creators[0].Creator != "customs-1.2.3" || doc.CreationInfo.Creators[0].CreatorType != "Tool" {
		t.Errorf("document header %+v %+v", doc, doc.CreationInfo)
	}
	if other := decodeSPDX(t, write(t, "spdx", r)); other.DocumentNamespace == doc.DocumentNamespace {
		t.Error("two documents share a namespace")
	}

	var raw struct {
		Packages []struct {
			SPDXID string `json:"SPDXID"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range raw.Packages {
		if !spdxIDPattern.MatchString(p.SPDXID) || seen[p.SPDXID] {
			t.Errorf("SPDXID %q invalid or repeated", p.SPDXID)
		}
		seen[p.SPDXID] = true
	}

	byName := map[string]*spdx.Package{}
	for _, p := range doc.Packages {
		byName[p.PackageName] = p
	}
	img := byName[r.Artifact.Name]
	if img == nil || img.PrimaryPackagePurpose != "CONTAINER" || img.PackageVersion != r.Artifact.Digest ||
		img.PackageChecksums[0].Value != strings.TrimPrefix(r.Artifact.Digest, "sha256:") {
		t.Fatalf("image package %+v", img)
	}
	if os := byName["debian"]; os == nil || os.PrimaryPackagePurpose != "OPERATING-SYSTEM" || os.PackageVersion != "12" {
		t.Errorf("os package %+v", os)
	}

	rels := map[string]string{}
	for _, rel := range doc.Relationships {
		rels[string(rel.RefA.ElementRefID)+" "+rel.Relationship+" "+string(rel.RefB.ElementRefID)] = ""
	}
	if _, ok := rels["DOCUMENT DESCRIBES "+string(img.PackageSPDXIdentifier)]; !ok {
		t.Errorf("no DESCRIBES relationship: %v", rels)
	}
	for _, p := range doc.Packages {
		if p == img {
			continue
		}
		if _, ok := rels[string(img.PackageSPDXIdentifier)+" CONTAINS "+string(p.PackageSPDXIdentifier)]; !ok {
			t.Errorf("image does not CONTAIN %s", p.PackageName)
		}
		if p.PackageLicenseConcluded != "NOASSERTION" || p.PackageDownloadLocation != "NOASSERTION" {
			t.Errorf("%s: concluded %q download %q", p.PackageName, p.PackageLicenseConcluded, p.PackageDownloadLocation)
		}
	}

	ssl := byName["libssl3"]
	if ssl.PackageLicenseDeclared != "NOASSERTION" || ssl.PackageSourceInfo != "built from source package openssl 3.0.11-1~deb12u2" ||
		ssl.PackageExternalReferences[0].Category != "PACKAGE-MANAGER" || ssl.PackageExternalReferences[0].RefType != "purl" ||
		ssl.PackageExternalReferences[0].Locator != r.Packages[0].PURL {
		t.Errorf("libssl3 %+v", ssl)
	}
	if app := byName["example.com/app"]; app.PrimaryPackagePurpose != "APPLICATION" || byName["golang.org/x/net"].PrimaryPackagePurpose != "LIBRARY" {
		t.Errorf("purposes %s %s", app.PrimaryPackagePurpose, byName["golang.org/x/net"].PrimaryPackagePurpose)
	}
	if got := byName["golang.org/x/net"].PackageLicenseDeclared; got != "BSD-3-Clause AND (MIT OR Apache-2.0)" {
		t.Errorf("x/net license %q", got)
	}
	req := byName["requests"].PackageLicenseDeclared
	if !strings.HasPrefix(req, "LicenseRef-Apache-2.0-") || len(doc.OtherLicenses) != 1 ||
		doc.OtherLicenses[0].LicenseIdentifier != req || doc.OtherLicenses[0].ExtractedText != "Apache 2.0" {
		t.Errorf("requests license %q, extracted %+v", req, doc.OtherLicenses)
	}
}

// TestSBOMPURLs checks that both SBOMs carry exactly the report's package URLs.
func TestSBOMPURLs(t *testing.T) {
	r := sampleReport()
	var want []string
	for _, p := range r.Packages {
		want = append(want, p.PURL)
	}
	sort.Strings(want)

	var fromCDX []string
	for _, c := range *decodeCycloneDX(t, write(t, "cyclonedx", r)).Components {
		if c.Type != cdx.ComponentTypeOS {
			fromCDX = append(fromCDX, c.PackageURL)
		}
	}
	sort.Strings(fromCDX)

	var fromSPDX []string
	for _, p := range decodeSPDX(t, write(t, "spdx", r)).Packages {
		for _, ref := range p.PackageExternalReferences {
			if ref.RefType == "purl" && !strings.HasPrefix(ref.Locator, "pkg:oci/") {
				fromSPDX = append(fromSPDX, ref.Locator)
			}
		}
	}
	sort.Strings(fromSPDX)
	if strings.Join(fromCDX, "\n") != strings.Join(want, "\n") || strings.Join(fromSPDX, "\n") != strings.Join(want, "\n") {
		t.Errorf("purls\nreport:    %q\ncyclonedx: %q\nspdx:      %q", want, fromCDX, fromSPDX)
	}
}

// TestSBOMsOfOddImages covers images without digest, name, OS or packages,
// and names full of characters SPDX identifiers do not allow.
func TestSBOMsOfOddImages(t *testing.T) {
	for _, a := range []Artifact{
		{Input: "./rootfs", Source: "rootfs"},
		{Input: "/tmp/my image (copy).tar", Source: "docker-archive", Digest: "sha256:00ff"},
		{Input: "myapp:dev", Source: "docker", Name: "myapp:dev", Digest: "sha256:" + strings.Repeat("ab", 32), OS: &model.OS{Family: "alpine", Version: "3.19.1"}},
	} {
		r := &Report{SchemaVersion: SchemaVersion, Tool: Tool{Name: "customs", Version: "dev"}, Artifact: a,
			Packages: []model.Package{{Name: "名前 with spaces/and:colons", Version: "1", Type: model.TypeNPM, Path: "x/package.json",
				Licenses: []string{"(MIT", "© someone"}}}}
		r.Summarize()
		schematest.Validate(t, schematest.CycloneDXURL, write(t, "cyclonedx", r))
		schematest.Validate(t, schematest.SPDXURL, write(t, "spdx", r))
	}
}

// TestSchemasRejectBrokenSBOMs shows the validation is not vacuous.
func TestSchemasRejectBrokenSBOMs(t *testing.T) {
	r := sampleReport()
	for url, c := range map[string]struct{ format, from, to string }{
		schematest.CycloneDXURL: {"cyclonedx", `"type": "library"`, `"type": "librarian"`},
		schematest.SPDXURL:      {"spdx", `"relationshipType": "CONTAINS"`, `"relationshipType": "HOLDS"`},
	} {
		out := string(write(t, c.format, r))
		if !strings.Contains(out, c.from) {
			t.Fatalf("%s output lacks %s", c.format, c.from)
		}
		if schematest.Check(url, []byte(strings.Replace(out, c.from, c.to, 1))) == nil {
			t.Errorf("%s schema accepted %s", c.format, c.to)
		}
	}
	// A license id that is not on the SPDX list is refused by the
	// CycloneDX schema, which is why the writer uses names and expressions.
	out := string(write(t, "cyclonedx", r))
	broken := strings.Replace(out, `"name": "Apache 2.0"`, `"id": "Apache 2.0"`, 1)
	if broken == out || schematest.Check(schematest.CycloneDXURL, []byte(broken)) == nil {
		t.Error("CycloneDX schema accepted an unknown license id")
	}
}

// FuzzSBOMWriters writes SBOMs of images whose names, packages, licenses and
// findings hold arbitrary strings (all of which come from the image): both
// must stay valid against their schemas.
func FuzzSBOMWriters(f *testing.F) {
	f.Add("registry.example.com/a/b:1", "libssl3", "3.0.11-1~deb12u2", "pkg:deb/debian/libssl3@3.0.11-1~deb12u2", "GPL-2.0+ OR MIT", "CVE-2024-1")
	f.Add("", "@scope/name", "", "", "Artistic or GPL-1+", "")
	f.Add("x@sha256:zz", "名前\x00\xff", "(devel)", "pkg:npm/%40scope/name", "(", "GHSA-xxxx")
	f.Fuzz(func(t *testing.T, image, name, version, purl, license, vulnID string) {
		r := &Report{SchemaVersion: SchemaVersion, Tool: Tool{Name: "customs", Version: "dev"},
			Artifact: Artifact{Input: image, Source: "registry", Name: image, Digest: "sha256:" + strings.Repeat("0", 64),
				OS: &model.OS{Family: name, Version: version}},
			Packages: []model.Package{
				{Name: name, Version: version, Type: model.TypeNPM, PURL: purl, Path: name, Licenses: []string{license}},
				{Name: name, Version: version, Type: model.TypeNPM, PURL: purl, Path: version, Licenses: []string{license, license}},
			},
			Findings: []model.Finding{{Class: model.ClassVulnerability, ID: vulnID, Severity: model.Severity(license),
				Package: &model.PackageRef{Name: name, Version: version, Type: model.TypeNPM, PURL: purl}, FixedVersion: version,
				Aliases: []string{name}, References: []string{purl}, Extra: map[string]string{ExtraCVSSScore: version, ExtraCVSSVector: license}}},
		}
		r.Summarize()
		for format, url := range map[string]string{"cyclonedx": schematest.CycloneDXURL, "spdx": schematest.SPDXURL} {
			var buf bytes.Buffer
			if err := Write(&buf, format, r); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			if err := schematest.Check(url, buf.Bytes()); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
	})
}

func TestAdvisoryURLs(t *testing.T) {
	for s, want := range map[string]bool{
		"https://www.debian.org/security/2023/dsa-5514": true,
		"http://example.com/a?b=c#d":                    true,
		"%":                                             false,
		"ftp://example.com/x":                           false,
		"https://example.com/a b":                       false,
		`https://example.com\a`:                         false,
		"https://[::1]/x":                               false,
		"https://example.com/\xff":                      false,
		"/relative":                                     false,
	} {
		if got := webURL(s); got != want {
			t.Errorf("webURL(%q) = %v", s, got)
		}
	}
}
