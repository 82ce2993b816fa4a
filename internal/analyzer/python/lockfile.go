package python

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/customs-scanner/customs/internal/model"
)

// ParsePoetryLock reads the [[package]] tables of poetry.lock, leaving out
// development dependencies (category "dev" in Poetry 1, groups without
// "main" in Poetry 2).
func ParsePoetryLock(b []byte) ([]model.Package, error) {
	var lock struct {
		Package []struct {
			Name     string   `toml:"name"`
			Version  string   `toml:"version"`
			Category string   `toml:"category"`
			Groups   []string `toml:"groups"`
		} `toml:"package"`
	}
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, errors.New("malformed poetry.lock: " + firstLine(err.Error()))
	}
	var out []model.Package
	for _, p := range lock.Package {
		if p.Category == "dev" || (len(p.Groups) > 0 && !slices.Contains(p.Groups, "main")) {
			continue
		}
		if validName(p.Name) && validVersion(p.Version) {
			out = append(out, newPackage(p.Name, p.Version))
		}
	}
	return sorted(out), nil
}

// ParsePipfileLock reads the "default" section of Pipfile.lock; entries
// pinned with "==" have a version, others (git, editable paths) are left
// out.
func ParsePipfileLock(b []byte) ([]model.Package, error) {
	var lock struct {
		Default map[string]struct {
			Version string `json:"version"`
		} `json:"default"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, errors.New("malformed Pipfile.lock: " + err.Error())
	}
	var out []model.Package
	for name, d := range lock.Default {
		v, ok := strings.CutPrefix(d.Version, "==")
		if ok && validName(name) && validVersion(v) {
			out = append(out, newPackage(name, v))
		}
	}
	return sorted(out), nil
}

func sorted(pkgs []model.Package) []model.Package {
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].PURL < pkgs[j].PURL })
	return slices.CompactFunc(pkgs, func(a, b model.Package) bool { return a.PURL == b.PURL })
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
