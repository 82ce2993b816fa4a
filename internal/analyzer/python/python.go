// Package python finds Python distributions: installed ones from
// *.dist-info/METADATA, *.egg-info/PKG-INFO, *.egg/EGG-INFO/PKG-INFO and
// the single-file *.egg-info that distutils and Debian write, and locked
// ones from poetry.lock and Pipfile.lock. Installed metadata is read
// wherever it lies (site-packages, dist-packages, virtual environments).
// Development dependencies are left out of lockfiles ("dev" category or
// group in poetry.lock, "develop" in Pipfile.lock). Purls carry the name
// normalized as PEP 503 says, so a lockfile entry and the installed copy
// are one package.
package python

import (
	"context"
	"path"
	"regexp"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// MaxLockfile is the size above which lockfiles are skipped with a warning.
const MaxLockfile = 16 << 20

// Analyzer finds Python distributions.
type Analyzer struct{}

// New returns the Python analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "python" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

type kind int

const (
	none kind = iota
	metadata
	poetryLock
	pipfileLock
)

func kindOf(p string) kind {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	parent := path.Base(dir)
	switch {
	case base == "METADATA" && strings.HasSuffix(parent, ".dist-info"),
		base == "PKG-INFO" && strings.HasSuffix(parent, ".egg-info"),
		base == "PKG-INFO" && parent == "EGG-INFO" && strings.HasSuffix(path.Dir(dir), ".egg"),
		strings.HasSuffix(base, ".egg-info") && len(base) > len(".egg-info"):
		return metadata
	case base == "poetry.lock":
		return poetryLock
	case base == "Pipfile.lock":
		return pipfileLock
	}
	return none
}

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !e.IsRegular() {
		return analyzer.Skip
	}
	switch kindOf(e.Path) {
	case none:
		return analyzer.Skip
	case metadata:
		return analyzer.Content // the headers come first: a truncated file is fine
	}
	return analyzer.NeedUpTo(e, MaxLockfile)
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	k := kindOf(f.Path)
	if k != metadata && analyzer.Oversized(f, MaxLockfile, r, "python") {
		return nil
	}
	var pkgs []model.Package
	var err error
	switch k {
	case metadata:
		var p *model.Package
		p, err = ParseMetadata(f.Content)
		if p != nil {
			pkgs = append(pkgs, *p)
		}
	case poetryLock:
		pkgs, err = ParsePoetryLock(f.Content)
	case pipfileLock:
		pkgs, err = ParsePipfileLock(f.Content)
	default:
		return nil
	}
	if err != nil {
		r.Warn(f.Path, "python: "+err.Error())
		return nil
	}
	for i := range pkgs {
		pkgs[i].Path = f.Path
	}
	r.Packages = append(r.Packages, pkgs...)
	return nil
}

// validNameRe is the distribution name syntax of PEP 508.
var validNameRe = regexp.MustCompile(`^(?i:[a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$`)

func validName(n string) bool { return len(n) <= 200 && validNameRe.MatchString(n) }

func validVersion(v string) bool {
	return v != "" && len(v) <= 128 && !strings.ContainsAny(v, " \t\r\n/\\:@")
}

func newPackage(name, version string) model.Package {
	return model.Package{Name: name, Version: version, Type: model.TypePyPI, PURL: purl.PyPI(name, version)}
}
