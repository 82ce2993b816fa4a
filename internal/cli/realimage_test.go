package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/report/schematest"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// realTag is the tag of the real archive testimage.AlpineWithPackages.
const realTag = "alpine-with-packages:latest"

// reportLines are what must not depend on where an image was read from:
// the OS, each package with the layer that brought it, and each finding.
func reportLines(rep *report.Report) []string {
	out := []string{"os " + rep.Artifact.OS.Family + " " + rep.Artifact.OS.Version}
	for _, p := range rep.Packages {
		out = append(out, "package "+p.Type+" "+p.Name+" "+p.Version+" "+p.LayerDiffID)
	}
	for _, f := range rep.Findings {
		out = append(out, "finding "+f.ID+" "+f.Path+f.Location+" "+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

// TestRealImageEverySource reads a real `docker save` archive (Alpine 3.20
// with packages added by apk in later layers) as the archive itself, as an
// OCI layout, and after loading it into a real Docker Engine, Podman and
// containerd: every source gives the same OS, packages (each with the
// layer that brought it) and findings.
func TestRealImageEverySource(t *testing.T) {
	archive := testimage.AlpineWithPackages(t)
	common := []string{"--db-dir", "builtin:sample", "--no-cache"}
	scan := func(what string, args ...string) []string {
		t.Helper()
		code, rep, stderr := jsonReport(t, append(append([]string{"image"}, args...), common...)...)
		if rep == nil || code != ExitOK {
			t.Fatalf("%s: exit %d: %s", what, code, stderr)
		}
		return reportLines(rep)
	}
	want := scan("docker-archive", archive)
	if len(want) < 35 || !slices.Contains(want, "os alpine 3.20.2") {
		t.Fatalf("the archive's report: %v", want)
	}

	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string][]string{"oci-layout": {writeLayout(t, img)}}

	docker := testenv.Docker(t)
	testenv.LoadImage(t, docker, archive, realTag)
	sources["docker"] = []string{realTag, "--source", "docker", "--docker-host", docker}

	podman := testenv.Podman(t)
	testenv.LoadImage(t, podman, archive, realTag)
	sources["podman"] = []string{realTag, "--source", "podman", "--podman-host", podman}

	sock := testenv.Containerd(t)
	testenv.ImportImage(t, sock, "default", archive)
	sources["containerd"] = []string{realTag, "--source", "containerd", "--containerd-address", sock, "--containerd-namespace", "default"}

	for what, args := range sources {
		expect := want
		if args[0] == realTag {
			// Named by its :latest tag, a local image also has the
			// tag-latest finding, which a path has no reason to carry.
			expect = append(slices.Clone(want), "finding tag-latest input MEDIUM")
			slices.Sort(expect)
		}
		if got := scan(what, args...); !slices.Equal(got, expect) {
			t.Errorf("%s differs from the archive: only there %v, only in the archive %v", what, minus(got, expect), minus(expect, got))
		}
	}
}

// minus returns the lines of a that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// TestRealImageSBOM: the CycloneDX and SPDX documents of the real Alpine
// image are valid against their schemas and name each apk package once,
// with Alpine's package URL (distro qualifier included).
func TestRealImageSBOM(t *testing.T) {
	archive := testimage.AlpineWithPackages(t)
	cdxOut := run(t, "sbom", archive, "--no-cache", "--quiet")
	schematest.Validate(t, schematest.CycloneDXURL, cdxOut)
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(cdxOut), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	var purls []string
	for _, c := range *bom.Components {
		if c.Type == cdx.ComponentTypeOS {
			continue
		}
		p, err := packageurl.FromString(c.PackageURL)
		if err != nil || p.Type != "apk" || p.Namespace != "alpine" || p.Name != c.Name || p.Version != c.Version || p.Qualifiers.Map()["distro"] != "alpine-3.20.2" {
			t.Errorf("%s %s: package URL %q (%v)", c.Name, c.Version, c.PackageURL, err)
		}
		purls = append(purls, c.PackageURL)
	}
	slices.Sort(purls)
	if len(purls) != 31 || len(slices.Compact(slices.Clone(purls))) != 31 {
		t.Errorf("%d apk components, want the 31 of the image's apk database once each", len(purls))
	}
	spdxOut := run(t, "sbom", archive, "--format", "spdx", "--no-cache", "--quiet")
	schematest.Validate(t, schematest.SPDXURL, spdxOut)
	doc, err := spdxjson.Read(bytes.NewReader(spdxOut))
	if err != nil {
		t.Fatal(err)
	}
	var spdxPURLs []string
	for _, p := range doc.Packages {
		for _, ref := range p.PackageExternalReferences {
			if ref.RefType == "purl" && !strings.HasPrefix(ref.Locator, "pkg:oci/") {
				spdxPURLs = append(spdxPURLs, ref.Locator)
			}
		}
	}
	slices.Sort(spdxPURLs)
	if !slices.Equal(spdxPURLs, purls) {
		t.Errorf("SPDX package URLs %v, CycloneDX's %v", spdxPURLs, purls)
	}
}
