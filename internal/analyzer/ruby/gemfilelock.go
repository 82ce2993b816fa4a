package ruby

import (
	"errors"
	"fmt"
	"strings"
)

// ParseGemfileLock reads the gems of a Bundler lockfile: the specs of its
// GEM, GIT and PATH sections ("    name (version[-platform])"). A gem locked
// for several platforms is one gem. Malformed spec lines are skipped; the
// error then says how many, alongside the gems that were read.
func ParseGemfileLock(b []byte) ([]Gem, error) {
	var out []Gem
	seen := map[string]bool{}
	section, inSpecs, bad, sections := "", false, 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if line[0] != ' ' {
			section, inSpecs = line, false
			if section == "GEM" || section == "GIT" || section == "PATH" {
				sections++
			}
			continue
		}
		if section != "GEM" && section != "GIT" && section != "PATH" {
			continue
		}
		if line == "  specs:" {
			inSpecs = true
			continue
		}
		if !inSpecs || !strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "     ") {
			continue // dependencies of a spec are indented further
		}
		name, version, ok := specLine(line[4:])
		if !ok {
			bad++
			continue
		}
		if k := name + "@" + version; !seen[k] {
			seen[k] = true
			out = append(out, Gem{Name: name, Version: version})
		}
	}
	switch {
	case sections == 0:
		return nil, errors.New("no GEM, GIT or PATH section: not a Gemfile.lock")
	case bad > 0:
		return out, fmt.Errorf("%d malformed spec lines skipped", bad)
	}
	return out, nil
}

// specLine splits "name (version[-platform])" as Bundler writes it; the
// version ends at the first "-".
func specLine(s string) (name, version string, ok bool) {
	name, rest, ok := strings.Cut(s, " (")
	if !ok || !strings.HasSuffix(rest, ")") {
		return "", "", false
	}
	version, _, _ = strings.Cut(strings.TrimSuffix(rest, ")"), "-")
	if !validName(name) || !validVersion(version) {
		return "", "", false
	}
	return name, version, true
}
