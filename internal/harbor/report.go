package harbor

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
)

// Severities of the spec.
const (
	SeverityUnknown    = "Unknown"
	SeverityNegligible = "Negligible"
	SeverityLow        = "Low"
	SeverityMedium     = "Medium"
	SeverityHigh       = "High"
	SeverityCritical   = "Critical"
)

// VulnerabilityReport is the spec's HarborVulnerabilityReport.
type VulnerabilityReport struct {
	GeneratedAt     time.Time           `json:"generated_at"`
	Artifact        Artifact            `json:"artifact"`
	Scanner         Scanner             `json:"scanner"`
	Severity        string              `json:"severity"`
	Vulnerabilities []VulnerabilityItem `json:"vulnerabilities"`
}

// VulnerabilityItem is one entry of the report: a vulnerability, or a
// malware, secret, configuration, integrity or archive finding.
type VulnerabilityItem struct {
	ID               string            `json:"id"`
	Package          string            `json:"package"`
	Version          string            `json:"version"`
	FixVersion       string            `json:"fix_version,omitempty"`
	Severity         string            `json:"severity"`
	Description      string            `json:"description,omitempty"`
	Links            []string          `json:"links,omitempty"`
	PreferredCVSS    *CVSSDetails      `json:"preferred_cvss,omitempty"`
	CWEIDs           []string          `json:"cwe_ids,omitempty"`
	VendorAttributes map[string]string `json:"vendor_attributes,omitempty"`
}

// CVSSDetails is a finding's CVSS score and vector.
type CVSSDetails struct {
	ScoreV3  *float64 `json:"score_v3,omitempty"`
	VectorV3 string   `json:"vector_v3,omitempty"`
}

// SBOMReport is the spec's HarborSbomReport.
type SBOMReport struct {
	GeneratedAt      time.Time         `json:"generated_at"`
	Artifact         Artifact          `json:"artifact"`
	Scanner          Scanner           `json:"scanner"`
	VendorAttributes map[string]string `json:"vendor_attributes,omitempty"`
	MediaType        string            `json:"media_type"`
	SBOM             json.RawMessage   `json:"sbom"`
}

// severityOf maps a customs severity to the spec's scale.
func severityOf(s model.Severity) string {
	switch s {
	case model.Critical:
		return SeverityCritical
	case model.High:
		return SeverityHigh
	case model.Medium:
		return SeverityMedium
	case model.Low:
		return SeverityLow
	}
	return SeverityUnknown
}

// rank orders the spec's severities.
func rank(s string) int {
	switch s {
	case SeverityNegligible:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium:
		return 3
	case SeverityHigh:
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}

// Reported reports whether a finding class goes into the vulnerability
// report: everything about the image's content. Registry findings (how
// customs reached the registry: plain HTTP, signatures, tag drift) are
// about the pull, not the artifact Harbor asked about, and stay in the
// raw report.
func Reported(c model.Class) bool { return c != model.ClassRegistry }

// VulnerabilityReportOf turns a customs report into the Harbor
// vulnerability report: every vulnerability, and every malware, secret,
// misconfiguration, integrity and archive finding as an entry with its
// severity (ID, the package or the path, the description), so that
// Harbor's "prevent vulnerable images from running" also stops them.
// The report's severity is the highest of its entries (Unknown when it
// has none, as the spec's scale has no "none").
func VulnerabilityReportOf(rep *report.Report, art Artifact, sc Scanner) VulnerabilityReport {
	out := VulnerabilityReport{GeneratedAt: rep.CreatedAt.UTC(), Artifact: art, Scanner: sc, Severity: SeverityUnknown,
		Vulnerabilities: []VulnerabilityItem{}}
	for _, f := range rep.Findings {
		if !Reported(f.Class) {
			continue
		}
		it := itemOf(f)
		if rank(it.Severity) > rank(out.Severity) {
			out.Severity = it.Severity
		}
		out.Vulnerabilities = append(out.Vulnerabilities, it)
	}
	return out
}

func itemOf(f model.Finding) VulnerabilityItem {
	it := VulnerabilityItem{ID: f.ID, Severity: severityOf(f.Severity), Links: webLinks(f.References),
		VendorAttributes: map[string]string{"class": string(f.Class)}}
	desc := f.Title
	if f.Description != "" && f.Description != f.Title {
		desc = strings.TrimSpace(desc + "\n\n" + f.Description)
	}
	it.Description = desc
	where := f.Path
	if where == "" {
		where = f.Location
	}
	if f.Package != nil {
		it.Package, it.Version = f.Package.Name, f.InstalledVersion
		if it.Version == "" {
			it.Version = f.Package.Version
		}
		if f.Package.PURL != "" {
			it.VendorAttributes["purl"] = f.Package.PURL
		}
	} else {
		// Findings in files or in the image configuration: the path (or
		// the place in the configuration) stands where a package would.
		it.Package = where
	}
	if where != "" {
		it.VendorAttributes["path"] = where
	}
	if f.Line > 0 {
		it.VendorAttributes["line"] = strconv.Itoa(f.Line)
	}
	if f.LayerDiffID != "" {
		it.VendorAttributes["layer_diff_id"] = f.LayerDiffID
	}
	if f.RemovedInFinal {
		it.VendorAttributes["removed_in_final"] = "true"
	}
	if f.Match != "" {
		it.VendorAttributes["match"] = f.Match
	}
	if len(f.Aliases) > 0 {
		it.VendorAttributes["aliases"] = strings.Join(f.Aliases, ",")
	}
	it.FixVersion = f.FixedVersion
	if v := f.Extra["cvss_vector"]; strings.HasPrefix(v, "CVSS:3.") {
		c := &CVSSDetails{VectorV3: v}
		if sc, err := strconv.ParseFloat(f.Extra["cvss_score"], 64); err == nil {
			c.ScoreV3 = &sc
		}
		it.PreferredCVSS = c
	} else if v != "" {
		it.VendorAttributes["cvss_vector"] = v
		if s := f.Extra["cvss_score"]; s != "" {
			it.VendorAttributes["cvss_score"] = s
		}
	}
	for _, a := range f.Aliases {
		if strings.HasPrefix(a, "CWE-") {
			it.CWEIDs = append(it.CWEIDs, a)
		}
	}
	return it
}

// webLinks keeps the http(s) references: the spec's links are URIs.
func webLinks(refs []string) []string {
	var out []string
	for _, r := range refs {
		if strings.HasPrefix(r, "https://") || strings.HasPrefix(r, "http://") {
			out = append(out, r)
		}
	}
	return out
}

// SBOMReportOf wraps the SBOM of rep in media (MediaSPDX or
// MediaCycloneDX).
func SBOMReportOf(rep *report.Report, art Artifact, sc Scanner, media string) (SBOMReport, error) {
	format, attrs := "spdx", map[string]string{"spec-version": "SPDX-2.3"}
	if media == MediaCycloneDX {
		format, attrs = "cyclonedx", map[string]string{"spec-version": "1.6"}
	}
	attrs["created-by"] = "customs"
	var buf bytes.Buffer
	if err := report.Write(&buf, format, rep); err != nil {
		return SBOMReport{}, err
	}
	return SBOMReport{GeneratedAt: rep.CreatedAt.UTC(), Artifact: art, Scanner: sc, VendorAttributes: attrs,
		MediaType: media, SBOM: json.RawMessage(bytes.TrimSpace(buf.Bytes()))}, nil
}

// PolicyClass is vendor_attributes.class of the entry a policy's deny
// adds to a vulnerability report.
const PolicyClass = "policy"

// AddVerdict records an image policy's verdict in a vulnerability
// report: a deny becomes a Critical entry (id "customs-policy:RULE", the
// reason as description), so that Harbor's "prevent vulnerable images
// from running" stops every image the policy denies, at any severity
// threshold. Warn and allow add nothing.
func AddVerdict(vr *VulnerabilityReport, v model.Verdict) {
	if v.Action != model.ActionDeny {
		return
	}
	attrs := map[string]string{"class": PolicyClass, "rule": v.Rule, "action": string(v.Action)}
	if v.Policy != "" {
		attrs["policy"] = v.Policy
	}
	vr.Vulnerabilities = append(vr.Vulnerabilities, VulnerabilityItem{
		ID: "customs-policy:" + v.Rule, Package: "image", Severity: SeverityCritical,
		Description: "Denied by the image policy's rule " + v.Rule + ": " + v.Reason, VendorAttributes: attrs,
	})
	vr.Severity = SeverityCritical
}
