// Package harbor speaks Harbor's pluggable scanner API v1.2
// (goharbor/pluggable-scanner-spec, api/spec/scanner-adapter-openapi-v1.2.yaml):
// the adapter's metadata, scan requests (parsed and checked here, since
// they come from the network), vulnerability reports in the spec's
// HarborVulnerabilityReport shape built from a customs report, SBOM
// reports, report MIME type negotiation and the error envelope.
//
// It has no HTTP routes and no state: internal/server mounts the API and
// queues the scans.
package harbor

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// MIME types of the API.
const (
	// MimeOCIManifest and MimeDockerManifest are the artifacts scanned.
	MimeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MimeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

	// MimeVulnReport is the vulnerability report Harbor renders (version
	// 1.1); MimeVulnReportHarbor is its 1.0 name, with the same shape.
	MimeVulnReport       = "application/vnd.security.vulnerability.report; version=1.1"
	MimeVulnReportHarbor = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
	// MimeRawReport is customs' own JSON report.
	MimeRawReport = "application/vnd.scanner.adapter.vuln.report.raw"
	// MimeSBOMReport wraps an SBOM in the format ?sbom_media_type names.
	MimeSBOMReport = "application/vnd.security.sbom.report+json; version=1.0"

	// SBOM formats of the SBOM capability.
	MediaSPDX      = "application/spdx+json"
	MediaCycloneDX = "application/vnd.cyclonedx+json"

	MimeMetadata     = "application/vnd.scanner.adapter.metadata+json; version=1.1"
	MimeScanRequest  = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
	MimeScanResponse = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
	MimeError        = "application/vnd.scanner.adapter.error+json; version=1.0"
)

// Capability types.
const (
	CapabilityVulnerability = "vulnerability"
	CapabilitySBOM          = "sbom"
)

// Scanner names the scanner in metadata and reports.
type Scanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// Capability is one ScannerCapability of the metadata.
type Capability struct {
	Type                 string              `json:"type"`
	ConsumesMimeTypes    []string            `json:"consumes_mime_types"`
	ProducesMimeTypes    []string            `json:"produces_mime_types"`
	AdditionalAttributes map[string][]string `json:"additional_attributes,omitempty"`
}

// Metadata answers GET /api/v1/metadata (ScannerAdapterMetadata).
type Metadata struct {
	Scanner      Scanner           `json:"scanner"`
	Capabilities []Capability      `json:"capabilities"`
	Properties   map[string]string `json:"properties"`
}

// Info is what the metadata says of the running scanner.
type Info struct {
	// Version is customs' version.
	Version string
	// DBUpdated is when the vulnerability database was last updated (zero:
	// none yet).
	DBUpdated time.Time
	// Scanners are the --scanners names that run (empty: all).
	Scanners []string
}

// ScannerOf is the scanner of version.
func ScannerOf(version string) Scanner {
	return Scanner{Name: "customs", Vendor: "customs", Version: version}
}

// NewMetadata is the adapter's metadata: a vulnerability capability
// producing the Harbor report and customs' raw report, an SBOM capability
// in SPDX and CycloneDX, and properties naming the version and the
// database's update time.
func NewMetadata(in Info) Metadata {
	consumes := []string{MimeOCIManifest, MimeDockerManifest}
	props := map[string]string{
		"harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
		"org.label-schema.name":               "customs",
		"org.label-schema.version":            in.Version,
		// What the vulnerability report lists besides vulnerabilities.
		"customs/report-classes": "vulnerability,malware,secret,misconfiguration,integrity,archive",
		"customs/scanners":       "all",
	}
	if len(in.Scanners) > 0 {
		props["customs/scanners"] = strings.Join(in.Scanners, ",")
	}
	if !in.DBUpdated.IsZero() {
		props["harbor.scanner-adapter/vulnerability-database-updated-at"] = in.DBUpdated.UTC().Format(time.RFC3339)
	}
	return Metadata{
		Scanner: ScannerOf(in.Version),
		Capabilities: []Capability{
			{Type: CapabilityVulnerability, ConsumesMimeTypes: consumes, ProducesMimeTypes: []string{MimeVulnReport, MimeVulnReportHarbor, MimeRawReport}},
			{Type: CapabilitySBOM, ConsumesMimeTypes: consumes, ProducesMimeTypes: []string{MimeSBOMReport},
				AdditionalAttributes: map[string][]string{"sbom_media_types": {MediaSPDX, MediaCycloneDX}}},
		},
		Properties: props,
	}
}

// ScanResponse answers POST /api/v1/scan.
type ScanResponse struct {
	ID string `json:"id"`
}

// ErrorResponse is the spec's error envelope.
type ErrorResponse struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

// WriteJSON answers code with v as JSON of MIME type contentType.
func WriteJSON(w http.ResponseWriter, code int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers code with the error envelope.
func WriteError(w http.ResponseWriter, code int, format string, args ...any) {
	var e ErrorResponse
	e.Error.Message = fmt.Sprintf(format, args...)
	WriteJSON(w, code, MimeError, e)
}

// Report kinds a GET of a report may ask for.
const (
	KindVuln = iota
	KindRaw
	KindSBOM
)

// Wanted is a negotiated report: its kind, the Content-Type to answer
// with and, for an SBOM, its format.
type Wanted struct {
	Kind        int
	ContentType string
	SBOMMedia   string
}

// Negotiate picks the report the Accept header and ?sbom_media_type ask
// for. No Accept (or */*) means the vulnerability report. Several types
// may be listed: the first this adapter produces wins. An SBOM needs a
// sbom_media_type of SPDX or CycloneDX; ErrBadRequest otherwise, and
// ErrUnsupported for a type this adapter does not produce.
func Negotiate(accept, sbomMedia string) (Wanted, error) {
	accept = strings.TrimSpace(accept)
	if accept == "" {
		accept = "*/*"
	}
	if len(accept) > 1024 {
		return Wanted{}, fmt.Errorf("%w: Accept header longer than 1024 bytes", ErrBadRequest)
	}
	for _, part := range splitAccept(accept) {
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		version := params["version"]
		switch {
		case mt == "*/*" || mt == "application/*" ||
			mt == "application/vnd.security.vulnerability.report" && (version == "" || version == "1.1"):
			return Wanted{Kind: KindVuln, ContentType: MimeVulnReport}, nil
		case mt == "application/vnd.scanner.adapter.vuln.report.harbor+json" && (version == "" || version == "1.0"):
			return Wanted{Kind: KindVuln, ContentType: MimeVulnReportHarbor}, nil
		case mt == "application/vnd.scanner.adapter.vuln.report.raw":
			return Wanted{Kind: KindRaw, ContentType: MimeRawReport}, nil
		case mt == "application/vnd.security.sbom.report+json" && (version == "" || version == "1.0"):
			switch sbomMedia {
			case MediaSPDX, MediaCycloneDX:
				return Wanted{Kind: KindSBOM, ContentType: MimeSBOMReport, SBOMMedia: sbomMedia}, nil
			case "":
				return Wanted{}, fmt.Errorf("%w: an SBOM report needs ?sbom_media_type=%s or %s", ErrBadRequest, MediaSPDX, MediaCycloneDX)
			}
			return Wanted{}, fmt.Errorf("%w: sbom_media_type %q: want %s or %s", ErrBadRequest, clip(sbomMedia), MediaSPDX, MediaCycloneDX)
		}
	}
	return Wanted{}, fmt.Errorf("%w: no report of type %q (this adapter produces %s, %s, %s and %s)", ErrUnsupported,
		clip(accept), MimeVulnReport, MimeVulnReportHarbor, MimeRawReport, MimeSBOMReport)
}

// splitAccept splits an Accept header at the commas between media
// ranges (parameters are unquoted tokens here).
func splitAccept(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// clip shortens what a client sent for an error message.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}
