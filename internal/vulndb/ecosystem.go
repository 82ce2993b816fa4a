package vulndb

import (
	"regexp"
	"strings"
)

// Base is the ecosystem without its release suffix: "Debian" for
// "Debian:12", "Alpine" for "Alpine:v3.19", "npm" for "npm".
func Base(ecosystem string) string {
	if i := strings.IndexByte(ecosystem, ':'); i >= 0 {
		return ecosystem[:i]
	}
	return ecosystem
}

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// NormalizeName returns the form under which a package name is indexed, so
// that names that the ecosystem treats as equal meet: PyPI names per PEP 503,
// NuGet and Packagist names in lower case. Other ecosystems are
// case-sensitive and are returned unchanged.
func NormalizeName(base, name string) string {
	switch base {
	case "PyPI":
		return pypiSeparators.ReplaceAllString(strings.ToLower(name), "-")
	case "NuGet", "Packagist":
		return strings.ToLower(name)
	}
	return name
}

// UpdateEcosystems are the OSV ecosystems that customs can match, and that
// `customs db update` downloads by default.
var UpdateEcosystems = []string{
	"Debian", "Ubuntu", "Alpine", "Rocky Linux", "AlmaLinux", "Red Hat", "SUSE", "openSUSE",
	"Wolfi", "Chainguard", "Go", "npm", "PyPI", "Maven", "RubyGems", "crates.io", "Packagist", "NuGet",
}
