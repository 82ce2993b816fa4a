package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Limits on cargo-auditable data: the compressed section and the JSON it
// inflates to. Real data is a few kilobytes.
const (
	MaxSectionBytes  = 4 << 20
	MaxInflatedBytes = 16 << 20
)

var errNoSection = errors.New("no .dep-v0 section")

// auditable is the JSON of a .dep-v0 section, as cargo-auditable writes it:
// every package of the build with its source and kind ("build" for build
// dependencies, absent for runtime ones).
type auditable struct {
	Packages []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Source  string `json:"source"`
		Kind    string `json:"kind"`
	} `json:"packages"`
}

// ReadAuditable returns the crates compiled into the ELF executable b, from
// its cargo-auditable section. Build-time dependencies (build scripts,
// procedural macros) are left out: their code is not in the executable.
func ReadAuditable(b []byte) ([]Crate, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, errNoSection
	}
	sec := f.Section(".dep-v0")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, errNoSection
	}
	if sec.Size > MaxSectionBytes {
		return nil, fmt.Errorf("section of %d bytes, more than the %d-byte limit", sec.Size, MaxSectionBytes)
	}
	z, err := io.ReadAll(io.LimitReader(sec.Open(), MaxSectionBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the section: %w", err)
	}
	js, err := inflate(z)
	if err != nil {
		return nil, err
	}
	return ParseAuditableJSON(js)
}

// inflate decompresses zlib data of at most MaxInflatedBytes.
func inflate(z []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("inflating: %w", err)
	}
	js, err := io.ReadAll(io.LimitReader(zr, MaxInflatedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("inflating: %w", err)
	}
	if len(js) > MaxInflatedBytes {
		return nil, fmt.Errorf("inflates to more than %d bytes", MaxInflatedBytes)
	}
	return js, nil
}

// ParseAuditableJSON reads the dependency list of cargo-auditable's JSON.
func ParseAuditableJSON(js []byte) ([]Crate, error) {
	var a auditable
	if err := json.Unmarshal(js, &a); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	var out []Crate
	bad := 0
	for _, p := range a.Packages {
		if p.Kind == "build" {
			continue
		}
		if !validName(p.Name) || !validVersion(p.Version) {
			bad++
			continue
		}
		out = append(out, Crate{Name: p.Name, Version: p.Version, Source: p.Source})
	}
	if bad > 0 {
		return out, fmt.Errorf("%d packages without a valid name and version", bad)
	}
	return out, nil
}
