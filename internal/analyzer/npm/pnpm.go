package npm

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/customs-scanner/customs/internal/model"
)

// ParsePnpmLock reads pnpm-lock.yaml: the keys of its "packages" map are
// "/name/1.2.3_peers" (v5), "/name@1.2.3(peers)" (v6) or
// "name@1.2.3" (v9); explicit name and version fields win.
func ParsePnpmLock(b []byte) ([]model.Package, error) {
	var lock struct {
		LockfileVersion any `yaml:"lockfileVersion"`
		Packages        map[string]*struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
			Dev     bool   `yaml:"dev"`
		} `yaml:"packages"`
	}
	if err := yaml.Unmarshal(b, &lock); err != nil {
		return nil, errors.New("malformed pnpm-lock.yaml: " + err.Error())
	}
	major, err := lockMajor(lock.LockfileVersion)
	if err != nil {
		return nil, err
	}
	var out []model.Package
	seen := map[string]bool{}
	for key, p := range lock.Packages {
		if p == nil || p.Dev {
			continue
		}
		name, version := pnpmKey(key, major)
		if p.Name != "" && p.Version != "" {
			name, version = p.Name, p.Version
		}
		if !validName(name) || !registryVersion(version) || seen[name+"@"+version] {
			continue
		}
		seen[name+"@"+version] = true
		out = append(out, newPackage(name, version))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// lockMajor reads lockfileVersion ("9.0", 5.4, '6.0').
func lockMajor(v any) (int, error) {
	s := fmt.Sprint(v)
	major, _, _ := strings.Cut(s, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 5 || n > 99 {
		return 0, fmt.Errorf("pnpm-lock.yaml: unsupported lockfileVersion %.20q", s)
	}
	return n, nil
}

// pnpmKey splits a "packages" key into name and version.
func pnpmKey(key string, major int) (string, string) {
	key = strings.TrimPrefix(key, "/")
	if i := strings.IndexByte(key, '('); i >= 0 {
		key = key[:i]
	}
	if major < 6 {
		i := strings.LastIndexByte(key, '/')
		if i < 0 {
			return "", ""
		}
		name, version := key[:i], key[i+1:]
		if j := strings.IndexByte(version, '_'); j >= 0 {
			version = version[:j]
		}
		return name, version
	}
	name, version, ok := splitSpec(key)
	if !ok {
		return "", ""
	}
	return name, version
}
