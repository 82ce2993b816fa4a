// Package ruby finds Ruby gems: installed gems by their specifications
// (specifications/*.gemspec, including the default gems under
// specifications/default) and locked gems in applications' Gemfile.lock. Gemspecs are Ruby
// code; they are read as text for literal name and version assignments and
// never executed.
package ruby

import (
	"context"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// MaxFileBytes bounds the gemspecs and lockfiles read; larger ones are
// skipped with a warning.
const MaxFileBytes = 8 << 20

// Analyzer reads gem specifications and Gemfile.lock files.
type Analyzer struct{}

// New returns the Ruby analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "ruby" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !(isGemspec(e.Path) || isLockfile(e.Path)) {
		return analyzer.Skip
	}
	return analyzer.NeedUpTo(e, MaxFileBytes)
}

// isGemspec reports whether p is an installed gem's specification.
func isGemspec(p string) bool {
	if !strings.HasSuffix(p, ".gemspec") {
		return false
	}
	dir := path.Dir(p)
	if path.Base(dir) == "default" {
		dir = path.Dir(dir)
	}
	return path.Base(dir) == "specifications"
}

// isLockfile reports whether p is an application's Bundler lockfile. The
// lockfiles that gems ship in their own source tree (under a gems
// directory: ".../gems/3.1.0/gems/rbs-2.1.0/steep/Gemfile.lock") describe
// how the gem was developed, not what is installed, and are left out.
func isLockfile(p string) bool {
	dir, b := path.Split(p)
	if b != "Gemfile.lock" && b != "gems.locked" {
		return false
	}
	parts := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	for _, d := range parts[:max(len(parts)-1, 0)] {
		if d == "gems" {
			return false
		}
	}
	return true
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if analyzer.Oversized(f, MaxFileBytes, r, "ruby") {
		return nil
	}
	if isGemspec(f.Path) {
		g, err := ParseGemspec(f.Content, path.Base(f.Path))
		if err != nil {
			r.Warn(f.Path, "ruby: "+err.Error())
			return nil
		}
		p := pkg(g, f.Path)
		if len(g.Licenses) > 0 {
			p.Licenses = g.Licenses
		}
		if strings.HasSuffix(path.Dir(f.Path), "/default") {
			p.Metadata = map[string]string{"gem_default": "true"}
		}
		r.Packages = append(r.Packages, p)
		return nil
	}
	gems, err := ParseGemfileLock(f.Content)
	if err != nil {
		r.Warn(f.Path, "ruby: "+err.Error())
	}
	for _, g := range gems {
		r.Packages = append(r.Packages, pkg(g, f.Path))
	}
	return nil
}

func pkg(g Gem, p string) model.Package {
	return model.Package{Name: g.Name, Version: g.Version, Type: model.TypeGem, PURL: purl.Gem(g.Name, g.Version), Path: p}
}

// Gem is a gem's name and version as a specification or lockfile states them.
type Gem struct {
	Name    string
	Version string
	// Licenses are those a gemspec declares with literal strings.
	Licenses []string
}

// validName reports whether s can be a gem name.
func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validVersion reports whether s can be a gem version: it starts with a
// digit and holds only the characters RubyGems versions use.
func validVersion(s string) bool {
	if s == "" || len(s) > 100 || s[0] < '0' || s[0] > '9' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
