package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/customs-scanner/customs/internal/model"
)

// DefaultIgnoreFile is read when --ignorefile is not given and it exists.
const DefaultIgnoreFile = ".customsignore"

// maxPolicyFile bounds ignore and VEX files.
const maxPolicyFile = 8 << 20

// IgnoreRule is one entry of an ignore file:
//
//	ignore:
//	  - id: CVE-2023-4911
//	    package: glibc            # optional: name, source name or purl
//	    path: var/lib/dpkg/status # optional: path or glob
//	    expires: 2025-06-30       # optional: stops suppressing after this day (UTC)
//	    reason: not reachable, no setuid binaries in the image
type IgnoreRule struct {
	ID      string `yaml:"id"`
	Package string `yaml:"package,omitempty"`
	Path    string `yaml:"path,omitempty"`
	Expires string `yaml:"expires,omitempty"`
	Reason  string `yaml:"reason,omitempty"`

	expires time.Time
}

func (r *IgnoreRule) matches(f model.Finding, now time.Time) bool {
	if !r.expires.IsZero() && !now.Before(r.expires) {
		return false
	}
	if !idMatches(r.ID, f) {
		return false
	}
	if r.Package != "" && !packageMatches(r.Package, f) {
		return false
	}
	if r.Path != "" && !pathMatches(r.Path, f) {
		return false
	}
	return true
}

// LoadIgnoreFile reads an ignore file. A missing file is an error only when
// required (the user named it).
func LoadIgnoreFile(name string, required bool) ([]IgnoreRule, error) {
	data, err := readPolicyFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !required {
			return nil, nil
		}
		return nil, err
	}
	rules, err := ParseIgnore(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rules, nil
}

// readPolicyFile reads an ignore or VEX file of at most maxPolicyFile bytes.
func readPolicyFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPolicyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxPolicyFile)
	}
	return data, nil
}

// ParseIgnore parses ignore-file YAML: a mapping with an "ignore" list, or
// the list itself.
func ParseIgnore(data []byte) ([]IgnoreRule, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var doc struct {
		Ignore []IgnoreRule `yaml:"ignore"`
	}
	var rules []IgnoreRule
	if err := yaml.Unmarshal(data, &doc); err == nil {
		rules = doc.Ignore
	} else if err2 := yaml.Unmarshal(data, &rules); err2 != nil {
		return nil, err
	}
	for i := range rules {
		r := &rules[i]
		if r.ID == "" {
			return nil, fmt.Errorf("entry %d: id is required", i+1)
		}
		if r.Expires != "" {
			t, err := time.Parse("2006-01-02", r.Expires)
			if err != nil {
				return nil, fmt.Errorf("entry %d (%s): expires %q: want YYYY-MM-DD", i+1, r.ID, r.Expires)
			}
			r.expires = t.AddDate(0, 0, 1) // suppresses through the whole day
		}
	}
	return rules, nil
}
