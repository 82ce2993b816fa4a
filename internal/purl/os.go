package purl

import (
	"strconv"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/customs-scanner/customs/internal/model"
)

// Namespaces used by the OS package builders until WithDistro knows the
// distribution.
const (
	debNamespace = "debian"
	apkNamespace = "alpine"
)

// Deb returns the purl of a Debian binary package,
// pkg:deb/debian/<name>@<version>?arch=<arch>. The namespace and distro
// qualifier are fixed by WithDistro once the image's OS is known.
func Deb(name, version, arch string) string {
	return build(packageurl.TypeDebian, debNamespace, name, version, "arch", arch)
}

// APK returns the purl of an Alpine package,
// pkg:apk/alpine/<name>@<version>?arch=<arch>.
func APK(name, version, arch string) string {
	return build(packageurl.TypeApk, apkNamespace, name, version, "arch", arch)
}

// RPM returns the purl of an RPM package,
// pkg:rpm/<name>@<version>-<release>?arch=<arch>&epoch=<epoch> (epoch only
// when positive); the namespace is the distribution, set by WithDistro.
func RPM(name, version, release, arch string, epoch int) string {
	v := version
	if release != "" {
		v += "-" + release
	}
	e := ""
	if epoch > 0 {
		e = strconv.Itoa(epoch)
	}
	return build(packageurl.TypeRPM, "", name, v, "arch", arch, "epoch", e)
}

// WithDistro rewrites the purls of deb, apk and rpm packages for the image's
// operating system: the namespace becomes the OS family and a
// distro=<family>-<version> qualifier is added. Other packages, and every
// package when os is nil or has no family, are returned unchanged. The
// slice is modified in place and returned.
func WithDistro(pkgs []model.Package, os *model.OS) []model.Package {
	if os == nil || os.Family == "" {
		return pkgs
	}
	distro := os.Family
	if os.Version != "" {
		distro += "-" + os.Version
	}
	for i := range pkgs {
		switch pkgs[i].Type {
		case model.TypeDeb, model.TypeAPK, model.TypeRPM:
		default:
			continue
		}
		p, err := packageurl.FromString(pkgs[i].PURL)
		if err != nil {
			continue
		}
		p.Namespace = os.Family
		q := p.Qualifiers.Map()
		q["distro"] = distro
		p.Qualifiers = packageurl.QualifiersFromMap(q)
		pkgs[i].PURL = p.ToString()
	}
	return pkgs
}
