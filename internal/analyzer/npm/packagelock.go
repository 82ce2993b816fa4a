package npm

import (
	"encoding/json"
	"errors"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// maxLockDepth bounds the nesting of a v1 lockfile's dependencies.
const maxLockDepth = 128

type lockDep struct {
	Version      string              `json:"version"`
	Dev          bool                `json:"dev"`
	Dependencies map[string]*lockDep `json:"dependencies"`
}

type lockPackage struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Dev      bool   `json:"dev"`
	Link     bool   `json:"link"`
	Resolved string `json:"resolved"`
	License  any    `json:"license"`
}

// ParsePackageLock reads package-lock.json (v1, v2 and v3; the "packages"
// map of v2 and v3 when present, else the "dependencies" tree of v1).
func ParsePackageLock(b []byte) ([]model.Package, error) {
	var lock struct {
		LockfileVersion int                     `json:"lockfileVersion"`
		Packages        map[string]*lockPackage `json:"packages"`
		Dependencies    map[string]*lockDep     `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, errors.New("malformed package-lock.json: " + err.Error())
	}
	var out []model.Package
	if lock.Packages != nil {
		out = lockPackages(lock.Packages)
	} else {
		walkLockDeps(lock.Dependencies, 0, &out)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	// The same version installed at several places is one package.
	return slices.CompactFunc(out, func(a, b model.Package) bool { return a.PURL == b.PURL }), nil
}

// lockPackages reads the "packages" map of v2 and v3 lockfiles: keys are
// install locations ("node_modules/a/node_modules/@s/b"), or a workspace's
// folder, which a link entry in node_modules names.
func lockPackages(pkgs map[string]*lockPackage) []model.Package {
	linkName := map[string]string{}
	for key, p := range pkgs {
		if p != nil && p.Link {
			if i := strings.LastIndex(key, "node_modules/"); i >= 0 {
				linkName[path.Clean(p.Resolved)] = key[i+len("node_modules/"):]
			}
		}
	}
	var out []model.Package
	for key, p := range pkgs {
		if key == "" || p == nil || p.Link || p.Dev || !registryVersion(p.Version) {
			continue
		}
		name := p.Name
		if name == "" {
			if i := strings.LastIndex(key, "node_modules/"); i >= 0 {
				name = key[i+len("node_modules/"):]
			} else {
				name = linkName[path.Clean(key)]
			}
		}
		if !validName(name) {
			continue
		}
		pkg := newPackage(name, p.Version)
		if l, ok := p.License.(string); ok && l != "" {
			pkg.Licenses = []string{l}
		}
		out = append(out, pkg)
	}
	return out
}

// walkLockDeps reads the "dependencies" tree of a v1 lockfile.
func walkLockDeps(deps map[string]*lockDep, depth int, out *[]model.Package) {
	if depth > maxLockDepth {
		return
	}
	for name, d := range deps {
		if d == nil || d.Dev {
			continue
		}
		n, v := name, d.Version
		if alias, ok := strings.CutPrefix(v, "npm:"); ok { // "npm:real@1.2.3"
			if i := strings.LastIndex(alias, "@"); i > 0 {
				n, v = alias[:i], alias[i+1:]
			}
		}
		if validName(n) && registryVersion(v) {
			*out = append(*out, newPackage(n, v))
		}
		walkLockDeps(d.Dependencies, depth+1, out)
	}
}
