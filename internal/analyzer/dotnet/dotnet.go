// Package dotnet finds NuGet packages: the libraries of type "package" in
// an application's *.deps.json (what the .NET host loads) and the resolved
// packages of packages.lock.json files.
package dotnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// MaxFileBytes bounds the files read; larger ones are skipped with a
// warning.
const MaxFileBytes = 32 << 20

// Analyzer reads .deps.json and packages.lock.json files.
type Analyzer struct{}

// New returns the .NET analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "dotnet" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

func isDeps(p string) bool { return strings.HasSuffix(p, ".deps.json") }

func isLock(p string) bool { return path.Base(p) == "packages.lock.json" }

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !(isDeps(e.Path) || isLock(e.Path)) {
		return analyzer.Skip
	}
	return analyzer.NeedUpTo(e, MaxFileBytes)
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if analyzer.Oversized(f, MaxFileBytes, r, "dotnet") {
		return nil
	}
	parse := ParsePackagesLock
	if isDeps(f.Path) {
		parse = ParseDepsJSON
	}
	pkgs, err := parse(f.Content)
	if err != nil {
		r.Warn(f.Path, "dotnet: "+err.Error())
	}
	for _, p := range pkgs {
		r.Packages = append(r.Packages, model.Package{Name: p.Name, Version: p.Version, Type: model.TypeNuGet, PURL: purl.NuGet(p.Name, p.Version), Path: f.Path})
	}
	return nil
}

// Package is a NuGet package id and version.
type Package struct {
	Name    string
	Version string
}

// ParseDepsJSON reads the "libraries" of a .deps.json: keys "Id/Version",
// of which those of type "package" come from NuGet ("project" and
// "reference" libraries are the application's own code).
func ParseDepsJSON(b []byte) ([]Package, error) {
	var d struct {
		Libraries map[string]struct {
			Type string `json:"type"`
		} `json:"libraries"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(b, bom), &d); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	var out []Package
	bad := 0
	for key, lib := range d.Libraries {
		if lib.Type != "package" {
			continue
		}
		i := strings.LastIndexByte(key, '/')
		if i < 0 || !validName(key[:i]) || !validVersion(key[i+1:]) {
			bad++
			continue
		}
		out = append(out, Package{Name: key[:i], Version: key[i+1:]})
	}
	return sorted(out), badErr(bad)
}

// ParsePackagesLock reads the resolved packages of a NuGet
// packages.lock.json, over every target framework and runtime; "Project"
// entries are the solution's own projects.
func ParsePackagesLock(b []byte) ([]Package, error) {
	var l struct {
		Dependencies map[string]map[string]struct {
			Type     string `json:"type"`
			Resolved string `json:"resolved"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(b, bom), &l); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	seen := map[Package]bool{}
	var out []Package
	bad := 0
	for _, deps := range l.Dependencies {
		for name, d := range deps {
			if strings.EqualFold(d.Type, "project") {
				continue
			}
			if !validName(name) || !validVersion(d.Resolved) {
				bad++
				continue
			}
			p := Package{Name: name, Version: d.Resolved}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return sorted(out), badErr(bad)
}

var bom = []byte("\xef\xbb\xbf")

func sorted(p []Package) []Package {
	sort.Slice(p, func(a, b int) bool {
		if p[a].Name != p[b].Name {
			return p[a].Name < p[b].Name
		}
		return p[a].Version < p[b].Version
	})
	return p
}

func badErr(bad int) error {
	if bad > 0 {
		return fmt.Errorf("%d packages without a valid id and version", bad)
	}
	return nil
}

// validName reports whether s can be a NuGet package id: letters, digits,
// ".", "-" and "_", at most 100 characters.
func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validVersion reports whether s can be a NuGet version: starts with a
// digit; letters, digits, ".", "-" and "+".
func validVersion(s string) bool {
	if s == "" || len(s) > 128 || s[0] < '0' || s[0] > '9' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}
