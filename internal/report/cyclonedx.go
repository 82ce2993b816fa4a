package report

import (
	"fmt"
	"io"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("cyclonedx", writeCycloneDX) }

// Keys of model.Finding.Extra that the CycloneDX writer reads.
const (
	// ExtraCVSSVector is a CVSS vector string ("CVSS:3.1/AV:N/...").
	ExtraCVSSVector = "cvss_vector"
	// ExtraCVSSScore is the CVSS base score ("9.8").
	ExtraCVSSScore = "cvss_score"
	// ExtraSeveritySource says where the severity came from: a CVSS
	// version ("cvss_v3") or a database's own rating ("ghsa", "debian").
	ExtraSeveritySource = "severity_source"
)

// ratingSources names the databases whose own severity ratings a finding
// may carry; CVSS-derived ratings keep the vulnerability's source.
var ratingSources = map[string]cdx.Source{
	"ghsa":   {Name: "GitHub"},
	"debian": {Name: "Debian"},
	"ubuntu": {Name: "Ubuntu"},
}

// Property names customs adds to CycloneDX components.
const (
	propLayer         = "customs:layer_diff_id"
	propPath          = "customs:path"
	propLocation      = "customs:location"
	propSourceName    = "customs:source_name"
	propSourceVersion = "customs:source_version"
	propMetadata      = "customs:metadata:"
)

// writeCycloneDX writes r as a CycloneDX 1.6 JSON BOM: the image as the
// metadata component, its operating system and packages as components,
// and its vulnerability findings as vulnerabilities.
func writeCycloneDX(w io.Writer, r *Report) error {
	bom := cycloneDXBOM(r)
	return cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false).EncodeVersion(bom, cdx.SpecVersion1_6)
}

func cycloneDXBOM(r *Report) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + newUUID()
	image := imageComponent(r)
	bom.Metadata = &cdx.Metadata{
		Timestamp: r.CreatedAt.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: r.Tool.Name, Version: r.Tool.Version,
		}}},
		Component: image,
	}
	refs := newRefSet()
	refs.add(image.BOMRef)
	var comps []cdx.Component
	var contained []string
	if os := r.Artifact.OS; os != nil && os.Family != "" {
		c := cdx.Component{
			BOMRef:      refs.add("os:" + os.Family + "@" + os.Version),
			Type:        cdx.ComponentTypeOS,
			Name:        os.Family,
			Version:     os.Version,
			Description: os.Name,
		}
		if os.Codename != "" {
			c.Properties = &[]cdx.Property{{Name: "customs:codename", Value: os.Codename}}
		}
		comps = append(comps, c)
		contained = append(contained, c.BOMRef)
	}
	byPURL := map[string][]componentAt{}
	for _, p := range r.Packages {
		c := packageComponent(p, refs)
		comps = append(comps, c)
		contained = append(contained, c.BOMRef)
		id := pkgIdentity(p.PURL, p.Type, p.Name, p.Version)
		byPURL[id] = append(byPURL[id], componentAt{c.BOMRef, p.Path})
	}
	if len(comps) > 0 {
		bom.Components = &comps
	}
	deps := []cdx.Dependency{{Ref: image.BOMRef, Dependencies: &contained}}
	if len(contained) == 0 {
		deps[0].Dependencies = nil
	}
	bom.Dependencies = &deps
	if vulns := vulnerabilities(r.Findings, byPURL, image.BOMRef); len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	return bom
}

func imageComponent(r *Report) *cdx.Component {
	a := r.Artifact
	c := &cdx.Component{
		Type:       cdx.ComponentTypeContainer,
		Name:       imageName(a),
		Version:    a.Digest,
		PackageURL: imagePURL(a),
	}
	c.BOMRef = c.PackageURL
	if c.BOMRef == "" {
		c.BOMRef = "image"
	}
	props := []cdx.Property{{Name: "customs:input", Value: a.Input}, {Name: "customs:source", Value: a.Source}}
	if a.Architecture != "" {
		props = append(props, cdx.Property{Name: "customs:architecture", Value: a.Architecture})
	}
	for _, l := range a.Layers {
		props = append(props, cdx.Property{Name: propLayer, Value: l.DiffID})
	}
	c.Properties = &props
	return c
}

func packageComponent(p model.Package, refs *refSet) cdx.Component {
	c := cdx.Component{
		BOMRef:     refs.add(pkgIdentity(p.PURL, p.Type, p.Name, p.Version)),
		Type:       cdx.ComponentTypeLibrary,
		Name:       p.Name,
		Version:    p.Version,
		PackageURL: p.PURL,
	}
	if isApplication(p) {
		c.Type = cdx.ComponentTypeApplication
	}
	if len(p.Licenses) > 0 {
		var ls cdx.Licenses
		if expr, ok := licenseExpression(p.Licenses); ok {
			ls = cdx.Licenses{{Expression: expr}}
		} else {
			for _, l := range p.Licenses {
				ls = append(ls, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
		}
		c.Licenses = &ls
	}
	var props []cdx.Property
	add := func(name, value string) {
		if value != "" {
			props = append(props, cdx.Property{Name: name, Value: value})
		}
	}
	add(propLayer, p.LayerDiffID)
	add(propPath, p.Path)
	for _, l := range p.Locations {
		add(propLocation, l)
	}
	add(propSourceName, p.SourceName)
	add(propSourceVersion, p.SourceVersion)
	keys := make([]string, 0, len(p.Metadata))
	for k := range p.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(propMetadata+k, p.Metadata[k])
	}
	if len(props) > 0 {
		c.Properties = &props
	}
	return c
}

// isApplication reports whether p is a program rather than a library: the
// main module of a Go executable.
func isApplication(p model.Package) bool {
	return p.Metadata["go_main_module"] == "true"
}

// pkgIdentity is how findings are tied to packages: by purl, else by type,
// name and version.
func pkgIdentity(purl, typ, name, version string) string {
	if purl != "" {
		return purl
	}
	return typ + "/" + name + "@" + version
}

// componentAt is a package component's bom-ref and the path it was read from.
type componentAt struct{ ref, path string }

// affectedRefs returns the bom-refs of the components a finding is about:
// those of its package read from the finding's path when there are such,
// else every component of its package.
func affectedRefs(f model.Finding, byPURL map[string][]componentAt) []string {
	if f.Package == nil {
		return nil
	}
	comps := byPURL[pkgIdentity(f.Package.PURL, f.Package.Type, f.Package.Name, f.Package.Version)]
	var all, atPath []string
	for _, c := range comps {
		all = append(all, c.ref)
		if f.Path != "" && c.path == f.Path {
			atPath = append(atPath, c.ref)
		}
	}
	if len(atPath) > 0 {
		return atPath
	}
	return all
}

// refSet hands out bom-refs, making each unique by suffixing a counter.
type refSet struct{ used map[string]bool }

func newRefSet() *refSet { return &refSet{used: map[string]bool{}} }

func (s *refSet) add(ref string) string {
	r := ref
	for n := 2; s.used[r]; n++ {
		r = ref + "#" + strconv.Itoa(n)
	}
	s.used[r] = true
	return r
}

// vulnerabilities turns vulnerability findings into CycloneDX
// vulnerabilities, one per ID, each affecting the components of the
// packages it was found in (or the image itself when it names none).
func vulnerabilities(findings []model.Finding, byPURL map[string][]componentAt, imageRef string) []cdx.Vulnerability {
	var out []cdx.Vulnerability
	index := map[string]int{}
	for _, f := range findings {
		if f.Class != model.ClassVulnerability || f.ID == "" {
			continue
		}
		i, ok := index[f.ID]
		if !ok {
			i = len(out)
			index[f.ID] = i
			out = append(out, newVulnerability(f))
		}
		v := &out[i]
		refs := affectedRefs(f, byPURL)
		if len(refs) == 0 {
			refs = []string{imageRef}
		}
		installed := f.InstalledVersion
		if installed == "" && f.Package != nil {
			installed = f.Package.Version
		}
		for _, ref := range refs {
			addAffect(v, ref, installed)
		}
		if f.FixedVersion != "" {
			what := "the package"
			if f.Package != nil {
				what = f.Package.Name
			}
			rec := fmt.Sprintf("Upgrade %s to %s or later.", what, f.FixedVersion)
			if !strings.Contains(v.Recommendation, rec) {
				v.Recommendation = strings.TrimSpace(v.Recommendation + " " + rec)
			}
			v.Analysis = &cdx.VulnerabilityAnalysis{Response: &[]cdx.ImpactAnalysisResponse{cdx.IARUpdate}}
		}
	}
	return out
}

func newVulnerability(f model.Finding) cdx.Vulnerability {
	src := vulnSource(f.ID)
	v := cdx.Vulnerability{
		ID:          f.ID,
		Source:      src,
		Description: f.Title,
		Detail:      f.Description,
	}
	rating := cdx.VulnerabilityRating{Source: src, Severity: cdxSeverity(f.Severity)}
	if rs, ok := ratingSources[f.Extra[ExtraSeveritySource]]; ok {
		rating.Source = &rs
	}
	if vec := f.Extra[ExtraCVSSVector]; vec != "" {
		rating.Vector = vec
		rating.Method = scoringMethod(vec)
	}
	if s, err := strconv.ParseFloat(f.Extra[ExtraCVSSScore], 64); err == nil && s >= 0 && s <= 10 && !math.IsNaN(s) {
		rating.Score = &s
	}
	v.Ratings = &[]cdx.VulnerabilityRating{rating}
	var refs []cdx.VulnerabilityReference
	for _, a := range f.Aliases {
		if a != f.ID {
			refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: vulnSource(a)})
		}
	}
	if len(refs) > 0 {
		v.References = &refs
	}
	var adv []cdx.Advisory
	for _, u := range f.References {
		if webURL(u) {
			adv = append(adv, cdx.Advisory{URL: u})
		}
	}
	if len(adv) > 0 {
		v.Advisories = &adv
	}
	return v
}

func addAffect(v *cdx.Vulnerability, ref, version string) {
	if v.Affects == nil {
		v.Affects = &[]cdx.Affects{}
	}
	for _, a := range *v.Affects {
		if a.Ref == ref {
			return
		}
	}
	a := cdx.Affects{Ref: ref}
	if version != "" {
		a.Range = &[]cdx.AffectedVersions{{Version: version, Status: cdx.VulnerabilityStatusAffected}}
	}
	*v.Affects = append(*v.Affects, a)
}

// vulnSources maps advisory ID prefixes to the databases that publish them.
var vulnSources = []struct{ prefix, name, url string }{
	{"CVE-", "NVD", "https://nvd.nist.gov/vuln/detail/"},
	{"GHSA-", "GitHub", "https://github.com/advisories/"},
	{"GO-", "Go", "https://pkg.go.dev/vuln/"},
	{"DSA-", "Debian", "https://security-tracker.debian.org/tracker/"},
	{"DLA-", "Debian", "https://security-tracker.debian.org/tracker/"},
	{"USN-", "Ubuntu", "https://ubuntu.com/security/notices/"},
	{"RUSTSEC-", "RustSec", "https://rustsec.org/advisories/"},
	{"PYSEC-", "PyPA", "https://osv.dev/vulnerability/"},
}

func vulnSource(id string) *cdx.Source {
	for _, s := range vulnSources {
		if strings.HasPrefix(id, s.prefix) {
			return &cdx.Source{Name: s.name, URL: s.url + url.PathEscape(id)}
		}
	}
	return &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + url.PathEscape(id)}
}

// webURL reports whether s is a plain absolute http(s) URL, as advisories
// must be (no spaces, controls or backslashes; a host name, not an IPv6
// address).
func webURL(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' || r == utf8.RuneError }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Hostname() != "" && !strings.Contains(u.Hostname(), ":")
}

func cdxSeverity(s model.Severity) cdx.Severity {
	switch s {
	case model.Critical:
		return cdx.SeverityCritical
	case model.High:
		return cdx.SeverityHigh
	case model.Medium:
		return cdx.SeverityMedium
	case model.Low:
		return cdx.SeverityLow
	}
	return cdx.SeverityUnknown
}

func scoringMethod(vector string) cdx.ScoringMethod {
	switch {
	case strings.HasPrefix(vector, "CVSS:4."):
		return cdx.ScoringMethodCVSSv4
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		return cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		return cdx.ScoringMethodCVSSv3
	case strings.HasPrefix(vector, "AV:"):
		return cdx.ScoringMethodCVSSv2
	}
	return cdx.ScoringMethodOther
}
