// Package report holds the report customs produces and its writers: JSON
// (the schema in docs/report.schema.json), a terminal table, SARIF, and
// CycloneDX and SPDX SBOMs.
//
// CycloneDX 1.6: the image is the metadata component (type container,
// version its digest, a pkg:oci purl when it has a name and a sha256
// digest); the OS is an operating-system component; each package is a
// library (or, for a Go executable's main module, application) component
// with its purl, licenses, and customs:* properties (layer_diff_id, path,
// location, source_name, source_version, metadata:KEY). Vulnerability
// findings become vulnerabilities, one per ID, whose ratings take the
// finding's severity and Extra cvss_vector/cvss_score, and which affect the
// components of the finding's package.
//
// SPDX 2.3: a document with a namespace unique per scan DESCRIBES the image
// package, which CONTAINS the OS and every package; packages carry their
// purl as a PACKAGE-MANAGER external reference, a declared license when
// the database gives one (free text becomes a LicenseRef-), NOASSERTION
// otherwise.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// SchemaVersion is the version of the JSON report shape.
const SchemaVersion = "1.0"

// Report is the outcome of one scan.
type Report struct {
	SchemaVersion string          `json:"schema_version"`
	Tool          Tool            `json:"tool"`
	CreatedAt     time.Time       `json:"created_at"`
	Artifact      Artifact        `json:"artifact"`
	Packages      []model.Package `json:"packages"`
	Findings      []model.Finding `json:"findings"`
	Summary       Summary         `json:"summary"`
	// Coverage says what data the vulnerability scanner had; nil in
	// reports that never ran it (SBOMs).
	Coverage *Coverage `json:"coverage,omitempty"`
	// Suppressed counts the findings the policy (severity filter, ignore
	// file, VEX) left out.
	Suppressed int `json:"suppressed,omitempty"`
	// Dropped counts, by reason, findings and packages left out because
	// they describe what OS packages installed unchanged (generic-rule
	// secrets in distribution files, setuid programs as packaged,
	// lockfiles that packages ship).
	Dropped map[string]int `json:"dropped,omitempty"`
	// Incomplete is true when part of the image could not be analysed (an
	// analyzer failed, entries of a root filesystem could not be read):
	// the warnings say what. A gate does not pass an incomplete scan.
	Incomplete bool     `json:"incomplete,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	// Verdict is what an image policy (--policy, docs/policy.md)
	// decided about the image; nil when none was given.
	Verdict *model.Verdict `json:"verdict,omitempty"`
}

// Coverage.Vulnerabilities values.
const (
	// CoverageMatched: the inventory was matched against a database.
	CoverageMatched = "matched"
	// CoverageNoData: the vulnerability scanner ran without a database.
	CoverageNoData = "no-data"
	// CoverageNotSelected: the user left the vuln scanner out.
	CoverageNotSelected = "not-selected"
)

// Coverage tells a report without vulnerabilities from a report without
// data: which database the scan used and, for each ecosystem of the
// inventory, whether it held advisories.
type Coverage struct {
	// Vulnerabilities is one of the Coverage* constants.
	Vulnerabilities string `json:"vulnerabilities"`
	// Database describes the database matched against.
	Database *Database `json:"database,omitempty"`
	// Ecosystems has one entry per ecosystem of the inventory.
	Ecosystems []model.EcosystemCoverage `json:"ecosystems,omitempty"`
	// Missing says, one sentence each, what data the scan lacked: a gate
	// with --exit-code fails on any.
	Missing []string `json:"missing,omitempty"`
}

// Database describes a vulnerability database.
type Database struct {
	Path    string `json:"path,omitempty"`
	Records int    `json:"records"`
	// Updated is when its oldest source was fetched.
	Updated time.Time `json:"updated,omitzero"`
}

// Tool names the scanner that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Artifact describes what was scanned.
type Artifact struct {
	Input  string `json:"input"`
	Source string `json:"source"`
	// Name is the resolved reference, when there is one.
	Name   string        `json:"name,omitempty"`
	Digest string        `json:"digest,omitempty"`
	OS     *model.OS     `json:"os,omitempty"`
	Layers []model.Layer `json:"layers"`
	// Architecture and OS of the image, from its configuration.
	Architecture string `json:"architecture,omitempty"`
}

// Summary counts what the report holds.
type Summary struct {
	Packages   int            `json:"packages"`
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
	ByClass    map[string]int `json:"by_class"`
}

// Summarize fills r.Summary from its packages and findings.
func (r *Report) Summarize() {
	s := Summary{Packages: len(r.Packages), Findings: len(r.Findings), BySeverity: map[string]int{}, ByClass: map[string]int{}}
	for _, f := range r.Findings {
		sev := f.Severity
		if sev == "" {
			sev = model.Unknown
		}
		s.BySeverity[string(sev)]++
		s.ByClass[string(f.Class)]++
	}
	r.Summary = s
}

// Writer writes a report in one format.
type Writer func(w io.Writer, r *Report) error

var writers = map[string]Writer{}

// Register makes a format available to Write.
func Register(format string, w Writer) { writers[format] = w }

// Formats lists the registered formats.
func Formats() []string {
	fs := make([]string, 0, len(writers))
	for f := range writers {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	return fs
}

// Write writes r to w in format.
func Write(w io.Writer, format string, r *Report) error {
	wr, ok := writers[format]
	if !ok {
		return fmt.Errorf("unknown format %q (one of %s)", format, strings.Join(Formats(), ", "))
	}
	return wr(w, r)
}
