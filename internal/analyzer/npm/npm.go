// Package npm finds Node.js packages: those installed in node_modules
// (nested, scoped, and pnpm's node_modules/.pnpm store) from their
// package.json, and those pinned by package-lock.json (v1, v2, v3),
// yarn.lock (classic and berry) and pnpm-lock.yaml (v5, v6, v9).
//
// Lockfiles are read where an application keeps them, not inside
// node_modules (packages ship their authors' lockfiles, which say nothing
// about what is installed). Development dependencies are left out of
// lockfiles that mark them (package-lock.json, pnpm-lock.yaml before v9),
// as they are usually not installed in an image; installed packages are
// always reported. Workspace packages are reported from package-lock.json;
// the root project itself is not a dependency and is left out. Entries that
// do not come from a registry (git, file, link) have no registry version
// and are left out.
package npm

import (
	"context"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// Size limits: larger files are skipped with a warning.
const (
	MaxPackageJSON = 1 << 20
	MaxLockfile    = 64 << 20
	// MaxYAMLLockfile is lower: YAML decoding needs many times the file size.
	MaxYAMLLockfile = 16 << 20
)

// Analyzer finds npm packages.
type Analyzer struct{}

// New returns the npm analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "npm" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

type kind int

const (
	none kind = iota
	installed
	packageLock
	yarnLock
	pnpmLock
)

// kindOf says what the file at p is to this analyzer.
func kindOf(p string) kind {
	base := path.Base(p)
	switch base {
	case "package.json":
		if isInstalledPackage(path.Dir(p)) {
			return installed
		}
		return none
	case "package-lock.json", "yarn.lock", "pnpm-lock.yaml":
		if strings.Contains("/"+p, "/node_modules/") {
			return none
		}
		switch base {
		case "package-lock.json":
			return packageLock
		case "yarn.lock":
			return yarnLock
		}
		return pnpmLock
	}
	return none
}

// isInstalledPackage reports whether dir is a package directory directly in
// a node_modules directory: node_modules/name or node_modules/@scope/name.
func isInstalledPackage(dir string) bool {
	parent, name := path.Split(dir)
	if name == "" || name[0] == '.' || name[0] == '@' {
		return false
	}
	parent = strings.TrimSuffix(parent, "/")
	if pp, scope := path.Split(parent); len(scope) > 1 && scope[0] == '@' {
		parent = strings.TrimSuffix(pp, "/")
	}
	return parent == "node_modules" || strings.HasSuffix(parent, "/node_modules")
}

func (k kind) limit() int64 {
	switch k {
	case installed:
		return MaxPackageJSON
	case pnpmLock:
		return MaxYAMLLockfile
	}
	return MaxLockfile
}

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !e.IsRegular() {
		return analyzer.Skip
	}
	k := kindOf(e.Path)
	if k == none {
		return analyzer.Skip
	}
	return analyzer.NeedUpTo(e, k.limit())
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	k := kindOf(f.Path)
	if analyzer.Oversized(f, k.limit(), r, "npm") {
		return nil
	}
	var pkgs []model.Package
	var err error
	switch k {
	case installed:
		var p *model.Package
		p, err = ParsePackageJSON(f.Content)
		if p != nil {
			pkgs = append(pkgs, *p)
		}
	case packageLock:
		pkgs, err = ParsePackageLock(f.Content)
	case yarnLock:
		pkgs, err = ParseYarnLock(f.Content)
	case pnpmLock:
		pkgs, err = ParsePnpmLock(f.Content)
	default:
		return nil
	}
	if err != nil {
		r.Warn(f.Path, "npm: "+err.Error())
		return nil
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
	}
	r.Packages = append(r.Packages, pkgs...)
	return nil
}

// newPackage returns the package name@version with its purl.
func newPackage(name, version string) model.Package {
	return model.Package{Name: name, Version: version, Type: model.TypeNPM, PURL: purl.NPM(name, version)}
}

// validName reports whether name can be an npm package name: not empty,
// no spaces or path tricks, at most one "/" and then only after a scope.
func validName(name string) bool {
	if name == "" || len(name) > 214 || strings.ContainsAny(name, " \t\n\\") || name[0] == '.' {
		return false
	}
	scope, rest, scoped := strings.Cut(name, "/")
	if !scoped {
		return true
	}
	return len(scope) > 1 && scope[0] == '@' && rest != "" && !strings.Contains(rest, "/") && rest[0] != '.'
}

// registryVersion reports whether v is a version from a registry, not a
// git, file, link or tarball reference.
func registryVersion(v string) bool {
	return v != "" && len(v) <= 256 && !strings.ContainsAny(v, ":/ \t\n#")
}
