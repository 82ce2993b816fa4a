// Package php finds Composer packages: those installed in a vendor
// directory (vendor/composer/installed.json, Composer 1's array form and
// Composer 2's {"packages": [...]} form) and those locked in composer.lock.
// Development packages are taken from installed.json, which lists what is
// installed, and left out of composer.lock, whose packages-dev are often
// not installed in an image.
package php

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/purl"
)

// MaxFileBytes bounds the files read; larger ones are skipped with a
// warning.
const MaxFileBytes = 32 << 20

// Analyzer reads Composer's installed.json and composer.lock files.
type Analyzer struct{}

// New returns the PHP analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements analyzer.Analyzer.
func (*Analyzer) Name() string { return "php" }

// Version implements analyzer.Analyzer.
func (*Analyzer) Version() int { return 1 }

func isInstalled(p string) bool {
	return path.Base(p) == "installed.json" && path.Base(path.Dir(p)) == "composer"
}

// isLock reports whether p is an application's composer.lock; the lockfiles
// that packages ship inside a vendor directory are their development
// lockfiles and are left out.
func isLock(p string) bool {
	return path.Base(p) == "composer.lock" && !underDir(p, "vendor")
}

// underDir reports whether a directory named d is an ancestor of p's parent
// directory.
func underDir(p, d string) bool {
	parts := strings.Split(path.Dir(path.Dir(p)), "/")
	for _, x := range parts {
		if x == d {
			return true
		}
	}
	return false
}

// Need implements analyzer.Analyzer.
func (*Analyzer) Need(e *analyzer.Entry) analyzer.Need {
	if !(isInstalled(e.Path) || isLock(e.Path)) {
		return analyzer.Skip
	}
	return analyzer.NeedUpTo(e, MaxFileBytes)
}

// Analyze implements analyzer.Analyzer.
func (*Analyzer) Analyze(_ context.Context, f *analyzer.File, r *analyzer.Result) error {
	if analyzer.Oversized(f, MaxFileBytes, r, "php") {
		return nil
	}
	parse := ParseComposerLock
	if isInstalled(f.Path) {
		parse = ParseInstalled
	}
	pkgs, err := parse(f.Content)
	if err != nil {
		r.Warn(f.Path, "php: "+err.Error())
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		if seen[p.Name+"@"+p.Version] {
			continue
		}
		seen[p.Name+"@"+p.Version] = true
		mp := model.Package{Name: p.Name, Version: p.Version, Type: model.TypeComposer, PURL: purl.Composer(p.Name, p.Version), Path: f.Path, Licenses: p.Licenses}
		if p.Dev {
			mp.Metadata = map[string]string{"dev": "true"}
		}
		r.Packages = append(r.Packages, mp)
	}
	return nil
}

// Package is one Composer package.
type Package struct {
	// Name is "vendor/name" in lower case: Composer compares names without
	// case, and Packagist and OSV spell them in lower case.
	Name     string
	Version  string
	Licenses []string
	// Dev is true for a development package (installed.json only).
	Dev bool
}

// entry is a package as Composer writes it in both files.
type entry struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

// ParseInstalled reads vendor/composer/installed.json in either form.
func ParseInstalled(b []byte) ([]Package, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var v2 struct {
		Packages []entry  `json:"packages"`
		DevNames []string `json:"dev-package-names"`
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(b, &v2.Packages); err != nil {
			return nil, fmt.Errorf("malformed JSON: %w", err)
		}
	} else if err := json.Unmarshal(b, &v2); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	dev := map[string]bool{}
	for _, n := range v2.DevNames {
		dev[strings.ToLower(n)] = true
	}
	out, err := packages(v2.Packages)
	for i := range out {
		out[i].Dev = dev[out[i].Name]
	}
	return out, err
}

// ParseComposerLock reads the (non-development) packages of composer.lock.
func ParseComposerLock(b []byte) ([]Package, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var l struct {
		Packages []entry `json:"packages"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	return packages(l.Packages)
}

func packages(entries []entry) ([]Package, error) {
	var out []Package
	bad := 0
	for _, e := range entries {
		if !validName(e.Name) || !validVersion(e.Version) {
			bad++
			continue
		}
		out = append(out, Package{Name: strings.ToLower(e.Name), Version: e.Version, Licenses: licenses(e.License)})
	}
	if bad > 0 {
		return out, fmt.Errorf("%d packages without a valid name and version", bad)
	}
	return out, nil
}

// licenses reads a license field: an array of identifiers or one string.
func licenses(raw json.RawMessage) []string {
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return nonEmpty(l)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return []string{s}
	}
	return nil
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// validName reports whether s is a Composer package name: "vendor/name" of
// letters, digits and "_.-".
func validName(s string) bool {
	v, n, ok := strings.Cut(s, "/")
	return ok && len(s) <= 200 && validPart(v) && validPart(n)
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validVersion reports whether s can be a Composer version ("v1.2.3",
// "1.0.0-RC1", "dev-main", "1.x-dev"): no spaces or control characters.
func validVersion(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c > '~' {
			return false
		}
	}
	return true
}
