package rust

import (
	"fmt"

	"github.com/pelletier/go-toml/v2"
)

// cargoLock is the part of Cargo.lock (format versions 1 to 4) that names
// packages.
type cargoLock struct {
	Package []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
		Source  string `toml:"source"`
	} `toml:"package"`
}

// ParseCargoLock returns the packages of a Cargo.lock. Packages without a
// source are the workspace's own crates; they get the source "local".
func ParseCargoLock(b []byte) ([]Crate, error) {
	var l cargoLock
	if err := toml.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("malformed TOML: %w", err)
	}
	var out []Crate
	bad := 0
	for _, p := range l.Package {
		if !validName(p.Name) || !validVersion(p.Version) {
			bad++
			continue
		}
		src := p.Source
		if src == "" {
			src = "local"
		}
		out = append(out, Crate{Name: p.Name, Version: p.Version, Source: src})
	}
	if bad > 0 {
		return out, fmt.Errorf("%d packages without a valid name and version", bad)
	}
	return out, nil
}
