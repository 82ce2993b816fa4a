// Package model holds the plain data that flows from analyzers to reports:
// packages, findings, operating-system facts and layer descriptions. It has no
// behaviour beyond small helpers, so every stage can depend on it.
package model

// Severity ranks a finding. The zero value is UNKNOWN.
type Severity string

// Severities in descending order of urgency.
const (
	Critical Severity = "CRITICAL"
	High     Severity = "HIGH"
	Medium   Severity = "MEDIUM"
	Low      Severity = "LOW"
	Unknown  Severity = "UNKNOWN"
)

// Rank orders severities: CRITICAL is 4, UNKNOWN (or anything else) is 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// Class says what kind of risk a finding describes.
type Class string

// Finding classes.
const (
	ClassVulnerability    Class = "vulnerability"
	ClassMalware          Class = "malware"
	ClassSecret           Class = "secret"
	ClassMisconfiguration Class = "misconfiguration"
	ClassRegistry         Class = "registry"
	ClassIntegrity        Class = "integrity"
	ClassArchive          Class = "archive"
)

// Package types, as they appear in Package.Type.
const (
	TypeDeb      = "deb"
	TypeAPK      = "apk"
	TypeRPM      = "rpm"
	TypeGolang   = "golang"
	TypeNPM      = "npm"
	TypePyPI     = "pypi"
	TypeGem      = "gem"
	TypeMaven    = "maven"
	TypeCargo    = "cargo"
	TypeComposer = "composer"
	TypeNuGet    = "nuget"
)

// OS identifies the operating system of an image.
type OS struct {
	// Family is the os-release ID, e.g. "debian", "ubuntu", "alpine", "rocky".
	Family string `json:"family"`
	// Version is the release, e.g. "12", "22.04", "3.19.1".
	Version string `json:"version"`
	// Codename is the release codename when known, e.g. "bookworm".
	Codename string `json:"codename,omitempty"`
	// Name is the human-readable PRETTY_NAME when known.
	Name string `json:"name,omitempty"`
}

// Package is one installed piece of software.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is one of the Type* constants.
	Type string `json:"type"`
	PURL string `json:"purl"`
	// Arch is the package architecture when the database records one.
	Arch string `json:"arch,omitempty"`
	// SourceName and SourceVersion name the source package a binary package
	// was built from (dpkg Source, apk origin, rpm source RPM).
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	// Licenses lists license identifiers or expressions as the database states them.
	Licenses []string `json:"licenses,omitempty"`
	// LayerDiffID is the layer that introduced this version of the package.
	LayerDiffID string `json:"layer_diff_id,omitempty"`
	// Path is the database or file the package was read from.
	Path string `json:"path"`
	// Locations lists further paths where the same package was found.
	Locations []string `json:"locations,omitempty"`
	// Metadata holds ecosystem specifics (e.g. "maintainer", "go_toolchain").
	Metadata map[string]string `json:"metadata,omitempty"`
	// OSOwned is true for a language package whose files an OS package
	// installed (a Debian node-* or python3-* package, say): the
	// distribution patches it, so its advisories apply, not the
	// language ecosystem's. OSPackage names the OS package.
	OSOwned   bool   `json:"os_owned,omitempty"`
	OSPackage string `json:"os_package,omitempty"`
}

// Key identifies a package within one database path.
func (p Package) Key() string {
	return p.Type + "\x00" + p.Name + "\x00" + p.Arch
}

// PackageRef is the short form of a package that a finding refers to.
type PackageRef struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Type       string `json:"type"`
	PURL       string `json:"purl,omitempty"`
	SourceName string `json:"source_name,omitempty"`
}

// Ref returns the short reference to p.
func (p Package) Ref() *PackageRef {
	return &PackageRef{Name: p.Name, Version: p.Version, Type: p.Type, PURL: p.PURL, SourceName: p.SourceName}
}

// Finding is one risk that customs reports.
type Finding struct {
	Class    Class    `json:"class"`
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	// Description says more than the title: why it matters, how to fix it.
	Description      string      `json:"description,omitempty"`
	Package          *PackageRef `json:"package,omitempty"`
	InstalledVersion string      `json:"installed_version,omitempty"`
	FixedVersion     string      `json:"fixed_version,omitempty"`
	// Path is set for findings in files, Location for findings elsewhere
	// (for example "config.Env[DB_PASSWORD]" or "history[4]").
	Path     string `json:"path,omitempty"`
	Location string `json:"location,omitempty"`
	// Line is the 1-based line of a finding in a text file, when known.
	Line        int    `json:"line,omitempty"`
	LayerDiffID string `json:"layer_diff_id,omitempty"`
	// RemovedInFinal is true when the file holding the finding is deleted or
	// replaced by a later layer: the content still ships in the image.
	RemovedInFinal bool     `json:"removed_in_final"`
	Aliases        []string `json:"aliases,omitempty"`
	References     []string `json:"references,omitempty"`
	// Match is a redacted excerpt of what matched (secrets) or the signature name (malware).
	Match string `json:"match,omitempty"`
	// Extra holds class-specific details (engine, sha256, cvss vector, ...).
	Extra map[string]string `json:"extra,omitempty"`
}

// Finding.Extra keys and values shared between stages.
const (
	// ExtraConfidence is "low" for a finding of a rule that matches by
	// shape alone (generic secret rules).
	ExtraConfidence = "confidence"
	ConfidenceLow   = "low"
	// ExtraOwner names the OS package that installed, unchanged, the file
	// a finding is in.
	ExtraOwner = "package_owned"
)

// Layer describes one layer of an image.
type Layer struct {
	Index     int    `json:"index"`
	Digest    string `json:"digest,omitempty"`
	DiffID    string `json:"diff_id"`
	CreatedBy string `json:"created_by,omitempty"`
	Size      int64  `json:"size"`
}
