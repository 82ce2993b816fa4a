package match

import (
	"fmt"
	"strings"

	"github.com/google/osv-scalibr/semantic"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
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
	pl := planFor(p, os)
	return pl.t, pl.state == matchable
}

// LookupKey is the key under which Run looks p up in the database on an
// image running os: the ecosystem base and the normalized name the
// advisories use (a Debian package's source package, say). ok is false
// when Run does not look p up: customs has no advisory source for it, or
// it has no version.
func LookupKey(p *model.Package, os *model.OS) (vulndb.PackageKey, bool) {
	pl := planFor(p, os)
	if pl.state != matchable {
		return vulndb.PackageKey{}, false
	}
	return vulndb.PackageKey{Ecosystem: pl.t.base, Name: vulndb.NormalizeName(pl.t.base, pl.t.name)}, true
}

// Plan states.
const (
	matchable   = iota // looked up in the database
	unversioned        // no version, or a development build
	unsupported        // customs has no advisory source for the package
	unparsable         // the installed version does not parse
)

// plan is how one package is matched, or why it is not: the coverage row
// it counts in, and for unsupported packages the reason.
type plan struct {
	t         target
	row       string
	state     int
	why       string
	installed semantic.Version
}

var langEcosystems = map[string]string{
	model.TypeNPM: "npm", model.TypePyPI: "PyPI", model.TypeGem: "RubyGems", model.TypeMaven: "Maven",
	model.TypeCargo: "crates.io", model.TypeComposer: "Packagist", model.TypeNuGet: "NuGet",
}

// planFor maps a package to its OSV lookup and coverage row.
func planFor(p *model.Package, os *model.OS) plan {
	switch p.Type {
	case model.TypeDeb, model.TypeAPK, model.TypeRPM:
		return distroPlan(p, os)
	case model.TypeGolang:
		name, v := p.Name, strings.TrimPrefix(p.Version, "v")
		if name == "stdlib" || name == "go" || name == "toolchain" {
			name, v = "stdlib", strings.TrimPrefix(p.Version, "go")
		}
		pl := plan{row: "Go", t: target{base: "Go", name: name, version: v, accept: exact("Go")}}
		if v == "" || v == "(devel)" || strings.Contains(v, "devel") {
			pl.state = unversioned
		}
		return pl
	}
	eco, ok := langEcosystems[p.Type]
	if !ok {
		typ := p.Type
		if typ == "" {
			typ = "untyped"
		}
		return plan{row: typ, state: unsupported, why: fmt.Sprintf("customs has no advisory source for %s packages", typ)}
	}
	pl := plan{row: eco, t: target{base: eco, name: p.Name, version: p.Version, accept: exact(eco)}}
	if p.Version == "" {
		pl.state = unversioned
	}
	return pl
}

// osName names an operating system as os-release does ("centos 7").
func osName(os *model.OS) string {
	return strings.TrimSpace(strings.ToLower(os.Family) + " " + os.Version)
}

// distroPlan maps an OS package. Debian and Ubuntu advisories name source
// packages and source versions; Alpine advisories name the origin
// package. RPM advisories name binary packages.
func distroPlan(p *model.Package, os *model.OS) plan {
	if os == nil || os.Family == "" {
		return plan{row: "unknown OS", state: unsupported,
			why: "no operating system was identified (no os-release or release file): OS packages cannot be matched against a distribution's advisories"}
	}
	name, version := p.Name, p.Version
	bySource := p.Type == model.TypeDeb
	if bySource || p.Type == model.TypeAPK {
		if p.SourceName != "" {
			name = p.SourceName
		}
		if bySource && p.SourceVersion != "" {
			version = p.SourceVersion
		}
	}
	t := target{name: name, version: version}
	major := strings.SplitN(os.Version, ".", 2)[0]
	row := ""
	noRelease := func() plan {
		return plan{row: osName(os), state: unsupported,
			why: fmt.Sprintf("%s without a usable VERSION_ID (%q): no release to match the distribution's advisories against", os.Family, os.Version)}
	}
	switch strings.ToLower(os.Family) {
	case "debian":
		if major == "" {
			return noRelease()
		}
		t.base, t.accept, row = "Debian", exact("Debian:"+major), "Debian:"+major
	case "ubuntu":
		if os.Version == "" {
			return noRelease()
		}
		t.base, t.accept, row = "Ubuntu", exact("Ubuntu:"+os.Version, "Ubuntu:"+os.Version+":LTS"), "Ubuntu:"+os.Version
	case "alpine":
		parts := strings.SplitN(os.Version, ".", 3)
		if len(parts) < 2 {
			return noRelease()
		}
		row = "Alpine:v" + parts[0] + "." + parts[1]
		t.base, t.accept = "Alpine", exact(row)
	case "wolfi":
		t.base, t.accept, row = "Wolfi", exact("Wolfi"), "Wolfi"
	case "chainguard":
		t.base, t.accept, row = "Chainguard", exact("Chainguard"), "Chainguard"
	case "rocky":
		if major == "" {
			return noRelease()
		}
		t.base, t.accept, row = "Rocky Linux", exact("Rocky Linux:"+major), "Rocky Linux:"+major
	case "almalinux":
		if major == "" {
			return noRelease()
		}
		t.base, t.accept, row = "AlmaLinux", exact("AlmaLinux:"+major), "AlmaLinux:"+major
	case "rhel":
		if major == "" {
			return noRelease()
		}
		prefix := "Red Hat:enterprise_linux:" + major + "::"
		t.base, row = "Red Hat", "Red Hat:enterprise_linux:"+major
		t.accept = func(e string) bool { return strings.HasPrefix(e, prefix) }
	case "sles":
		if major == "" {
			return noRelease()
		}
		rel := suseRelease(os.Version)
		suffix := " " + rel
		t.base, row = "SUSE", "SUSE:Linux Enterprise "+rel
		t.accept = func(e string) bool {
			return strings.HasPrefix(e, "SUSE:Linux Enterprise") && strings.HasSuffix(e, suffix)
		}
	case "opensuse-leap":
		if os.Version == "" {
			return noRelease()
		}
		t.base, t.accept, row = "openSUSE", exact("openSUSE:Leap "+os.Version), "openSUSE:Leap "+os.Version
	case "opensuse-tumbleweed":
		t.base, t.accept, row = "openSUSE", exact("openSUSE:Tumbleweed"), "openSUSE:Tumbleweed"
	default:
		return plan{row: osName(os), state: unsupported,
			why: fmt.Sprintf("customs has no advisory source for %s: its OS packages are not matched", osDisplay(os))}
	}
	want := model.TypeRPM
	switch t.base {
	case "Debian", "Ubuntu":
		want = model.TypeDeb
	case "Alpine", "Wolfi", "Chainguard":
		want = model.TypeAPK
	}
	if p.Type != want {
		return plan{row: osName(os) + " " + p.Type, state: unsupported,
			why: fmt.Sprintf("%s packages on %s: customs matches only %s packages there", p.Type, osDisplay(os), want)}
	}
	pl := plan{row: row, t: t}
	if version == "" {
		pl.state = unversioned
	}
	return pl
}

// osDisplay names an OS for messages: its PRETTY_NAME when known.
func osDisplay(os *model.OS) string {
	if os.Name != "" {
		return os.Name
	}
	return osName(os)
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
