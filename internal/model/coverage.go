package model

// Coverage statuses of an EcosystemCoverage.
const (
	// CoverageOK: the database holds records for the ecosystem.
	CoverageOK = "ok"
	// CoverageNoData: customs can match the ecosystem, but the database
	// holds no record for it.
	CoverageNoData = "no-data"
	// CoverageUnsupported: customs has no advisory source for the packages
	// (OS packages of a distribution it does not know, or without a
	// release, package types without an OSV ecosystem).
	CoverageUnsupported = "unsupported"
)

// EcosystemCoverage says what advisory data one ecosystem of the inventory
// had. Every package of an inventory is counted in exactly one row:
// Packages = Matched + UnparsableVersions + Unversioned.
type EcosystemCoverage struct {
	// Ecosystem as matched: "Debian:12", "Alpine:v3.19", "npm", "Go"; for
	// OS packages customs has no advisory source for, the OS as os-release
	// names it ("centos 7", "amzn 2023"), "unknown OS" when none was found.
	Ecosystem string `json:"ecosystem"`
	// Packages counts the inventory packages in it.
	Packages int `json:"packages"`
	// Matched counts the packages looked up in the database.
	Matched int `json:"matched"`
	// Vulnerable counts the packages with at least one finding.
	Vulnerable int `json:"vulnerable"`
	// Records counts the advisory records the database holds for the
	// exact ecosystem (summed over the ecosystem names that apply, such as
	// "Ubuntu:22.04" and "Ubuntu:22.04:LTS").
	Records int `json:"records"`
	// Updated is the newest "modified" of those records, or the fetch time
	// of their source (RFC 3339).
	Updated string `json:"updated,omitempty"`
	// UnparsableVersions counts installed versions that did not parse with
	// the ecosystem's rules: those packages were not matched.
	UnparsableVersions int `json:"unparsable_versions,omitempty"`
	// Unversioned counts packages without a version, or development builds
	// (Go "(devel)"): those packages were not matched.
	Unversioned int `json:"unversioned,omitempty"`
	// UnparsableRanges counts the OSV range events (and ranges of unknown
	// types) of candidate records that did not parse: those ranges could
	// not be evaluated for the packages they name.
	UnparsableRanges int `json:"unparsable_ranges,omitempty"`
	// Status is CoverageOK, CoverageNoData or CoverageUnsupported.
	Status string `json:"status"`
	// Reason is a sentence saying why, when Status is not ok.
	Reason string `json:"reason,omitempty"`
}

// Usable reports whether vulnerability matching had data for the ecosystem.
func (c EcosystemCoverage) Usable() bool { return c.Status == CoverageOK }
