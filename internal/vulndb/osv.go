// Package vulndb keeps a local copy of OSV vulnerability records in an
// embedded SQLite database: it parses OSV JSON and YAML, imports directories
// and export zips, downloads the per-ecosystem OSV exports, exports the
// database as one file, and looks records up by ecosystem and package name.
package vulndb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxRecordBytes bounds one OSV record file; larger files are rejected.
const MaxRecordBytes = 16 << 20

// Record is one OSV vulnerability record (https://ossf.github.io/osv-schema/),
// with the fields customs uses.
type Record struct {
	SchemaVersion    string         `json:"schema_version,omitempty" yaml:"schema_version,omitempty"`
	ID               string         `json:"id" yaml:"id"`
	Modified         string         `json:"modified,omitempty" yaml:"modified,omitempty"`
	Published        string         `json:"published,omitempty" yaml:"published,omitempty"`
	Withdrawn        string         `json:"withdrawn,omitempty" yaml:"withdrawn,omitempty"`
	Aliases          []string       `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	Upstream         []string       `json:"upstream,omitempty" yaml:"upstream,omitempty"`
	Related          []string       `json:"related,omitempty" yaml:"related,omitempty"`
	Summary          string         `json:"summary,omitempty" yaml:"summary,omitempty"`
	Details          string         `json:"details,omitempty" yaml:"details,omitempty"`
	Severity         []Severity     `json:"severity,omitempty" yaml:"severity,omitempty"`
	Affected         []Affected     `json:"affected,omitempty" yaml:"affected,omitempty"`
	References       []Reference    `json:"references,omitempty" yaml:"references,omitempty"`
	DatabaseSpecific map[string]any `json:"database_specific,omitempty" yaml:"database_specific,omitempty"`
}

// Severity is a scored severity: a CVSS vector or a source's own rating.
type Severity struct {
	Type  string `json:"type" yaml:"type"`
	Score string `json:"score" yaml:"score"`
}

// Affected names one package and the versions of it that are affected.
type Affected struct {
	Package           Package        `json:"package" yaml:"package"`
	Severity          []Severity     `json:"severity,omitempty" yaml:"severity,omitempty"`
	Ranges            []Range        `json:"ranges,omitempty" yaml:"ranges,omitempty"`
	Versions          []string       `json:"versions,omitempty" yaml:"versions,omitempty"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific,omitempty" yaml:"ecosystem_specific,omitempty"`
	DatabaseSpecific  map[string]any `json:"database_specific,omitempty" yaml:"database_specific,omitempty"`
}

// Package identifies a package within an OSV ecosystem.
type Package struct {
	Ecosystem string `json:"ecosystem" yaml:"ecosystem"`
	Name      string `json:"name" yaml:"name"`
	PURL      string `json:"purl,omitempty" yaml:"purl,omitempty"`
}

// Range is a list of version events of one type (ECOSYSTEM, SEMVER, GIT).
type Range struct {
	Type   string  `json:"type" yaml:"type"`
	Repo   string  `json:"repo,omitempty" yaml:"repo,omitempty"`
	Events []Event `json:"events" yaml:"events"`
}

// Event is one range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty" yaml:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty" yaml:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty" yaml:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty" yaml:"limit,omitempty"`
}

// Reference is a link about the vulnerability.
type Reference struct {
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	URL  string `json:"url" yaml:"url"`
}

// ParseError says why a file holds no valid OSV record.
type ParseError struct {
	Name   string
	Reason string
}

func (e *ParseError) Error() string { return e.Name + ": " + e.Reason }

// Parse reads the OSV records in one file: a JSON object, a JSON array of
// objects, or a YAML document. name is used for the format (".yaml", ".yml")
// and in errors. Records without an id are rejected. Errors are
// *ParseError values.
func Parse(name string, data []byte) ([]*Record, error) {
	fail := func(format string, args ...any) ([]*Record, error) {
		return nil, &ParseError{Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxRecordBytes {
		return fail("%d bytes, larger than the %d-byte limit", len(data), MaxRecordBytes)
	}
	var recs []*Record
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml") {
		r, err := parseYAML(data)
		if err != nil {
			return fail("not an OSV record (YAML: %v)", err)
		}
		recs = []*Record{r}
	} else {
		trimmed := bytes.TrimSpace(data)
		var err error
		if len(trimmed) > 0 && trimmed[0] == '[' {
			err = json.Unmarshal(trimmed, &recs)
		} else {
			var r Record
			err = json.Unmarshal(trimmed, &r)
			recs = []*Record{&r}
		}
		var syntax *json.SyntaxError
		switch {
		case len(trimmed) == 0:
			return fail("empty file")
		case errors.As(err, &syntax):
			return fail("not JSON (%v)", err)
		case err != nil:
			return fail("not an OSV record (%v)", err)
		}
	}
	for _, r := range recs {
		if r == nil || strings.TrimSpace(r.ID) == "" {
			return fail("not an OSV record (no id)")
		}
	}
	return recs, nil
}

// parseYAML decodes one YAML record. YAML anchors and aliases are refused:
// they let a small file expand without bound.
func parseYAML(data []byte) (*Record, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return nil, err
	}
	if hasAlias(&node, 0) {
		return nil, errors.New("YAML aliases or deep nesting are not accepted in OSV records")
	}
	var r Record
	if err := node.Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

func hasAlias(n *yaml.Node, depth int) bool {
	if n == nil {
		return false
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" || depth > 64 {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c, depth+1) {
			return true
		}
	}
	return false
}

// IsMalware reports whether r describes a malicious package (an OSV MAL- record).
func (r *Record) IsMalware() bool { return strings.HasPrefix(r.ID, "MAL-") }
