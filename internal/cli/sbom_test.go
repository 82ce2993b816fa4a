package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/report/schematest"
	"github.com/customs-scanner/customs/internal/testimage"
)

// hostPackage is a package of this Debian machine as dpkg-query states it.
type hostPackage struct{ name, version, source, sourceVersion string }

// sbomLayout writes an OCI layout holding the host's own os-release and the
// dpkg status stanzas of a few installed packages, and returns its
// directory, the image's digest and those packages as dpkg-query sees them.
func sbomLayout(t *testing.T) (string, string, map[string]hostPackage) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("dpkg-query not installed")
		}
		t.Fatal("dpkg-query not installed")
	}
	names := []string{"base-files", "bash", "libc6"}
	status, err := exec.Command("dpkg-query", append([]string{"-s"}, names...)...).Output()
	if err != nil {
		t.Fatalf("dpkg-query -s: %v", err)
	}
	out, err := exec.Command("dpkg-query", append([]string{"-W", "-f", "${Package}\t${Version}\t${source:Package}\t${source:Version}\n"}, names...)...).Output()
	if err != nil {
		t.Fatalf("dpkg-query -W: %v", err)
	}
	want := map[string]hostPackage{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		want[f[0]] = hostPackage{f[0], f[1], f[2], f[3]}
	}
	osRelease, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", string(osRelease))),
		testimage.Layer(t, testimage.File("var/lib/dpkg/status", string(status))))
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return writeLayout(t, img), digest.String(), want
}

func osReleaseField(t *testing.T, key string) string {
	t.Helper()
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func run(t *testing.T, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), args, &stdout, &stderr); code != ExitOK {
		t.Fatalf("customs %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.Bytes()
}

func TestSBOMCommand(t *testing.T) {
	dir, digest, want := sbomLayout(t)
	common := []string{dir, "--no-cache", "--quiet", "--platform", "linux/amd64"}

	// CycloneDX, the default format.
	out := run(t, append([]string{"sbom"}, common...)...)
	schematest.Validate(t, schematest.CycloneDXURL, out)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if c := bom.Metadata.Component; c.Type != cdx.ComponentTypeContainer || c.Version != digest {
		t.Errorf("image component %+v, want version %s", c, digest)
	}
	var cdxPURLs []string
	got := map[string]hostPackage{}
	for _, c := range *bom.Components {
		if c.Type == cdx.ComponentTypeOS {
			if c.Name != osReleaseField(t, "ID") || c.Version != osReleaseField(t, "VERSION_ID") {
				t.Errorf("os component %s %s", c.Name, c.Version)
			}
			continue
		}
		cdxPURLs = append(cdxPURLs, c.PackageURL)
		p := hostPackage{name: c.Name, version: c.Version}
		for _, prop := range *c.Properties {
			switch prop.Name {
			case "customs:source_name":
				p.source = prop.Value
			case "customs:source_version":
				p.sourceVersion = prop.Value
			}
		}
		// dpkg-query reports the binary package's own name and version as
		// its source when the stanza has no Source field.
		if p.source == "" {
			p.source = p.name
		}
		if p.sourceVersion == "" {
			p.sourceVersion = p.version
		}
		got[c.Name] = p
	}
	if len(got) != len(want) {
		t.Errorf("components %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %+v, want %+v (dpkg-query)", name, got[name], w)
		}
	}

	// SPDX, written to a file.
	file := filepath.Join(t.TempDir(), "image.spdx.json")
	run(t, append([]string{"sbom", "--format", "spdx", "--output", file}, common...)...)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, schematest.SPDXURL, b)
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var spdxPURLs []string
	for _, p := range doc.Packages {
		for _, ref := range p.PackageExternalReferences {
			if ref.RefType == "purl" && !strings.HasPrefix(ref.Locator, "pkg:oci/") {
				spdxPURLs = append(spdxPURLs, ref.Locator)
				if w := want[p.PackageName]; p.PackageVersion != w.version {
					t.Errorf("spdx %s %s, want %s", p.PackageName, p.PackageVersion, w.version)
				}
			}
		}
	}

	// Both carry the purls of the JSON report of the same image.
	jsonOut := run(t, append([]string{"image", "--format", "json", "--scanners", "package"}, common...)...)
	schematest.Validate(t, schematest.ReportURL, jsonOut)
	var rep report.Report
	if err := json.Unmarshal(jsonOut, &rep); err != nil {
		t.Fatal(err)
	}
	var repPURLs []string
	for _, p := range rep.Packages {
		repPURLs = append(repPURLs, p.PURL)
	}
	for _, l := range [][]string{repPURLs, cdxPURLs, spdxPURLs} {
		sort.Strings(l)
	}
	if len(repPURLs) != len(want) || strings.Join(cdxPURLs, " ") != strings.Join(repPURLs, " ") || strings.Join(spdxPURLs, " ") != strings.Join(repPURLs, " ") {
		t.Errorf("purls\nreport    %q\ncyclonedx %q\nspdx      %q", repPURLs, cdxPURLs, spdxPURLs)
	}
}

func TestSBOMCommandRefusesReportFormats(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"sbom", "--format", "table", "./nowhere"}, &stdout, &stderr); code != ExitError ||
		!strings.Contains(stderr.String(), "sbom writes cyclonedx or spdx") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestImageCycloneDXVulnerabilities scans an image holding a glibc older
// than the fix of DSA-5514-1 (from the bundled sample database) and checks
// that the CycloneDX output carries the advisory, tied to the package.
func TestImageCycloneDXVulnerabilities(t *testing.T) {
	const (
		installed = "2.36-9+deb12u1"
		fixed     = "2.36-9+deb12u3" // DSA-5514-1, Debian:12
	)
	status := "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n" +
		"Architecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: " + installed + "\nDescription: GNU C Library: Shared libraries\n"
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t,
		testimage.File("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"),
		testimage.File("var/lib/dpkg/status", status)))
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	args := []string{"image", dir, "--no-cache", "--quiet", "--platform", "linux/amd64", "--db-dir", "builtin:sample"}
	schematest.Validate(t, schematest.ReportURL, run(t, append(args, "--format", "json")...))
	out := run(t, append(args, "--scanners", "vuln", "--format", "cyclonedx")...)
	schematest.Validate(t, schematest.CycloneDXURL, out)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	var libc cdx.Component
	for _, c := range *bom.Components {
		if c.Name == "libc6" {
			libc = c
		}
	}
	if libc.Version != installed {
		t.Fatalf("libc6 component %+v", libc)
	}
	if bom.Vulnerabilities == nil {
		t.Fatal("no vulnerabilities")
	}
	found := false
	for _, v := range *bom.Vulnerabilities {
		ids := []string{v.ID}
		if v.References != nil {
			for _, r := range *v.References {
				ids = append(ids, r.ID)
			}
		}
		if !slices.Contains(ids, "DSA-5514-1") {
			continue
		}
		found = true
		if a := *v.Affects; len(a) != 1 || a[0].Ref != libc.BOMRef || (*a[0].Range)[0].Version != installed {
			t.Errorf("%s affects %+v", v.ID, a)
		}
		if !strings.Contains(v.Recommendation, fixed) || v.Analysis == nil || (*v.Analysis.Response)[0] != cdx.IARUpdate {
			t.Errorf("%s recommendation %q analysis %+v", v.ID, v.Recommendation, v.Analysis)
		}
	}
	if !found {
		t.Errorf("DSA-5514-1 missing from %+v", *bom.Vulnerabilities)
	}
}
