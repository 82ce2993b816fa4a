package python

import (
	"bytes"
	"errors"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

// maxHeaderLines bounds how many header lines are read.
const maxHeaderLines = 10000

// ParseMetadata reads the headers of a core metadata file (METADATA,
// PKG-INFO): Name, Version and the license. The body after the first blank
// line (the long description) is not read. It returns an error when the
// file has no valid Name and Version.
func ParseMetadata(b []byte) (*model.Package, error) {
	var name, version, license, expression string
	var key string
	for n := 0; len(b) > 0 && n < maxHeaderLines; n++ {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		s := strings.TrimRight(string(line), "\r")
		if s == "" {
			break // end of the headers
		}
		if s[0] == ' ' || s[0] == '\t' {
			if key == "License" {
				license = "" // multi-line license texts are not identifiers
			}
			continue
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok {
			key = ""
			continue
		}
		key = k
		v = strings.TrimSpace(v)
		switch k {
		case "Name":
			name = v
		case "Version":
			version = v
		case "License":
			license = v
		case "License-Expression":
			expression = v
		}
	}
	if !validName(name) || !validVersion(version) {
		return nil, errors.New("metadata without a valid Name and Version")
	}
	p := newPackage(name, version)
	if expression == "" && license != "UNKNOWN" && len(license) <= 100 {
		expression = license
	}
	if expression != "" {
		p.Licenses = []string{expression}
	}
	return &p, nil
}
