package purl

import (
	"regexp"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// Golang returns the purl of a Go module: pkg:golang/<module path>@<version>.
// The toolchain is the module "stdlib". An empty version leaves the version
// out.
func Golang(module, version string) string {
	ns, name := langSplitLast(module, "/")
	return packageurl.NewPackageURL(packageurl.TypeGolang, ns, name, version, nil, "").ToString()
}

// NPM returns the purl of an npm package; a scoped name ("@scope/name")
// becomes the namespace, its "@" escaped: pkg:npm/%40scope/name@1.2.3.
func NPM(name, version string) string {
	ns := ""
	if strings.HasPrefix(name, "@") {
		ns, name = langSplitLast(name, "/")
	}
	return packageurl.NewPackageURL(packageurl.TypeNPM, ns, name, version, nil, "").ToString()
}

// PyPI returns the purl of a Python distribution, its name normalized as
// PEP 503 says: pkg:pypi/<normalized>@<version>.
func PyPI(name, version string) string {
	return packageurl.NewPackageURL(packageurl.TypePyPi, "", NormalizePyPI(name), version, nil, "").ToString()
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// NormalizePyPI normalizes a Python distribution name as PEP 503 says:
// lower case, every run of "-", "_" and "." replaced by one "-".
func NormalizePyPI(name string) string {
	return pep503.ReplaceAllString(strings.ToLower(name), "-")
}

// Maven returns the purl of a Maven artifact:
// pkg:maven/<groupId>/<artifactId>@<version>.
func Maven(group, artifact, version string) string {
	return packageurl.NewPackageURL(packageurl.TypeMaven, group, artifact, version, nil, "").ToString()
}

// langSplitLast splits s at the last sep into what comes before and after it;
// without sep the first part is empty.
func langSplitLast(s, sep string) (string, string) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+len(sep):]
}
