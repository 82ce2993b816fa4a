package npm

import (
	"encoding/json"
	"errors"

	"github.com/customs-scanner/customs/internal/model"
)

// ParsePackageJSON reads the package.json of an installed package. It
// returns nil and no error for a package.json that does not describe a
// package (no name or version, as in test fixtures and build folders).
func ParsePackageJSON(b []byte) (*model.Package, error) {
	var pj struct {
		Name    string          `json:"name"`
		Version string          `json:"version"`
		License json.RawMessage `json:"license"`
	}
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, errors.New("malformed package.json: " + err.Error())
	}
	if !validName(pj.Name) || pj.Version == "" || len(pj.Version) > 256 {
		return nil, nil
	}
	p := newPackage(pj.Name, pj.Version)
	if l := license(pj.License); l != "" {
		p.Licenses = []string{l}
	}
	return &p, nil
}

// license reads the "license" field: a string, or the legacy {"type": ...}.
func license(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Type
	}
	return ""
}
