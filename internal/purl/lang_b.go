package purl

import (
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// Gem returns the purl of a Ruby gem: pkg:gem/<name>@<version>. The platform
// of a binary gem is left out, so the installed gem and its lockfile entry
// share one purl.
func Gem(name, version string) string {
	return packageurl.NewPackageURL(packageurl.TypeGem, "", name, version, nil, "").ToString()
}

// Cargo returns the purl of a Rust crate: pkg:cargo/<name>@<version>.
func Cargo(name, version string) string {
	return packageurl.NewPackageURL(packageurl.TypeCargo, "", name, version, nil, "").ToString()
}

// Composer returns the purl of a Composer package "vendor/name", lower-cased
// as the purl specification says: pkg:composer/<vendor>/<name>@<version>.
// The version is kept as written ("v5.4.0"): Packagist and composer.lock
// keep the tag that way, and OSV's Packagist ordering drops a leading "v"
// when it compares versions.
func Composer(name, version string) string {
	ns, n := langSplitLast(strings.ToLower(name), "/")
	return packageurl.NewPackageURL(packageurl.TypeComposer, ns, n, version, nil, "").ToString()
}

// NuGet returns the purl of a NuGet package: pkg:nuget/<id>@<version>, the
// id as the package states it.
func NuGet(id, version string) string {
	return packageurl.NewPackageURL(packageurl.TypeNuget, "", id, version, nil, "").ToString()
}
