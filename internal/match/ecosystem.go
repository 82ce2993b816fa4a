package match

import (
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// target is what a package is looked up as: an OSV ecosystem base, the name
// and version the advisories use, and which release suffixes apply.
type target struct {
	base    string
	name    string
	version string
	// accept reports whether an affected entry's full ecosystem string
	// ("Debian:12") applies to the image.
	accept func(ecosystem string) bool
}

func exact(names ...string) func(string) bool {
	return func(e string) bool {
		for _, n := range names {
			if e == n {
				return true
			}
		}
		return false
	}
}

// targetFor maps a package to its OSV lookup, or ok=false when customs has
// no exact advisory source for it (an unknown distribution, a Debian
// release without VERSION_ID, a development build).
func targetFor(p *model.Package, os *model.OS) (target, bool) {
	switch p.Type {
	case model.TypeDeb:
		return distroTarget(p, os, true)
	case model.TypeAPK, model.TypeRPM:
		return distroTarget(p, os, false)
	case model.TypeGolang:
		name, v := p.Name, strings.TrimPrefix(p.Version, "v")
		if name == "stdlib" || name == "go" || name == "toolchain" {
			name, v = "stdlib", strings.TrimPrefix(p.Version, "go")
		}
		if v == "" || v == "(devel)" || strings.Contains(v, "devel") {
			return target{}, false
		}
		return target{base: "Go", name: name, version: v, accept: exact("Go")}, true
	}
	lang := map[string]string{
		model.TypeNPM: "npm", model.TypePyPI: "PyPI", model.TypeGem: "RubyGems", model.TypeMaven: "Maven",
		model.TypeCargo: "crates.io", model.TypeComposer: "Packagist", model.TypeNuGet: "NuGet",
	}
	eco, ok := lang[p.Type]
	if !ok || p.Version == "" {
		return target{}, false
	}
	return target{base: eco, name: p.Name, version: p.Version, accept: exact(eco)}, true
}

// distroTarget maps an OS package. Debian and Ubuntu advisories name source
// packages and source versions; Alpine advisories name the origin
// package. RPM advisories name binary packages.
func distroTarget(p *model.Package, os *model.OS, bySource bool) (target, bool) {
	if os == nil {
		return target{}, false
	}
	name, version := p.Name, p.Version
	if bySource || p.Type == model.TypeAPK {
		if p.SourceName != "" {
			name = p.SourceName
		}
		if bySource && p.SourceVersion != "" {
			version = p.SourceVersion
		}
	}
	if version == "" {
		return target{}, false
	}
	t := target{name: name, version: version}
	major := strings.SplitN(os.Version, ".", 2)[0]
	switch strings.ToLower(os.Family) {
	case "debian":
		if major == "" || p.Type != model.TypeDeb {
			return target{}, false
		}
		t.base, t.accept = "Debian", exact("Debian:"+major)
	case "ubuntu":
		if os.Version == "" || p.Type != model.TypeDeb {
			return target{}, false
		}
		t.base, t.accept = "Ubuntu", exact("Ubuntu:"+os.Version, "Ubuntu:"+os.Version+":LTS")
	case "alpine":
		parts := strings.SplitN(os.Version, ".", 3)
		if len(parts) < 2 || p.Type != model.TypeAPK {
			return target{}, false
		}
		t.base, t.accept = "Alpine", exact("Alpine:v"+parts[0]+"."+parts[1])
	case "wolfi":
		t.base, t.accept = "Wolfi", exact("Wolfi")
	case "chainguard":
		t.base, t.accept = "Chainguard", exact("Chainguard")
	case "rocky":
		t.base, t.accept = "Rocky Linux", exact("Rocky Linux:"+major)
	case "almalinux":
		t.base, t.accept = "AlmaLinux", exact("AlmaLinux:"+major)
	case "rhel":
		prefix := "Red Hat:enterprise_linux:" + major + "::"
		t.base = "Red Hat"
		t.accept = func(e string) bool { return strings.HasPrefix(e, prefix) }
	case "sles":
		suffix := " " + suseRelease(os.Version)
		t.base = "SUSE"
		t.accept = func(e string) bool {
			return strings.HasPrefix(e, "SUSE:Linux Enterprise") && strings.HasSuffix(e, suffix)
		}
	case "opensuse-leap":
		t.base, t.accept = "openSUSE", exact("openSUSE:Leap "+os.Version)
	case "opensuse-tumbleweed":
		t.base, t.accept = "openSUSE", exact("openSUSE:Tumbleweed")
	default:
		return target{}, false
	}
	if (p.Type == model.TypeRPM) != (t.base == "Rocky Linux" || t.base == "AlmaLinux" || t.base == "Red Hat" || t.base == "SUSE" || t.base == "openSUSE") {
		return target{}, false
	}
	return t, true
}

// suseRelease turns a SLES VERSION_ID ("15.5") into the form of the SUSE
// ecosystem names ("15 SP5").
func suseRelease(v string) string {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || minor == "0" {
		return major
	}
	return major + " SP" + minor
}
