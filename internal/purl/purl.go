// Package purl builds package URLs (https://github.com/package-url/purl-spec)
// for the packages customs finds. Each ecosystem has its builder here, so
// every analyzer spells purls the same way.
package purl

import (
	packageurl "github.com/package-url/packageurl-go"
)

// build returns the canonical string of a purl; qualifiers with empty
// values are left out.
func build(typ, namespace, name, version string, qualifiers ...string) string {
	var qs packageurl.Qualifiers
	for i := 0; i+1 < len(qualifiers); i += 2 {
		if qualifiers[i+1] != "" {
			qs = append(qs, packageurl.Qualifier{Key: qualifiers[i], Value: qualifiers[i+1]})
		}
	}
	return packageurl.NewPackageURL(typ, namespace, name, version, qs, "").ToString()
}
