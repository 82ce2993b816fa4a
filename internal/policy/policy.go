// Package policy decides which findings a run reports and whether it fails:
// a severity filter, --ignore-unfixed, an ignore file with expiry dates,
// and OpenVEX statements.
package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// Policy filters findings. The zero value keeps everything.
type Policy struct {
	// Severities kept; empty keeps every severity.
	Severities []model.Severity
	// IgnoreUnfixed drops vulnerabilities that have no fixed version.
	IgnoreUnfixed bool
	// Ignore holds ignore-file entries.
	Ignore []IgnoreRule
	// VEX holds OpenVEX statements.
	VEX []Statement
	// Image names the scanned image (input, name and digest) for VEX
	// products that name the image rather than a package.
	Image []string
	// Now is the time expiry dates are judged against (default time.Now).
	Now time.Time
}

// Suppressed is a finding that the policy removed, with the reason.
type Suppressed struct {
	Finding model.Finding `json:"finding"`
	Reason  string        `json:"reason"`
}

// ParseSeverities reads a comma-separated severity list ("HIGH,CRITICAL").
func ParseSeverities(list []string) ([]model.Severity, error) {
	var out []model.Severity
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.ToUpper(strings.TrimSpace(s))
			if s == "" {
				continue
			}
			sev := model.Severity(s)
			if sev != model.Unknown && sev.Rank() == 0 {
				return nil, fmt.Errorf("unknown severity %q (one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", s)
			}
			out = append(out, sev)
		}
	}
	return out, nil
}

// Apply returns the findings the policy keeps and those it suppressed.
func (p *Policy) Apply(fs []model.Finding) (kept []model.Finding, suppressed []Suppressed) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	for _, f := range fs {
		if reason := p.reason(f, now); reason != "" {
			suppressed = append(suppressed, Suppressed{Finding: f, Reason: reason})
			continue
		}
		kept = append(kept, f)
	}
	return kept, suppressed
}

func (p *Policy) reason(f model.Finding, now time.Time) string {
	if len(p.Severities) > 0 {
		sev := f.Severity
		if sev == "" {
			sev = model.Unknown
		}
		if !slices.Contains(p.Severities, sev) {
			return "severity " + string(sev) + " not selected"
		}
	}
	if p.IgnoreUnfixed && f.Class == model.ClassVulnerability && f.FixedVersion == "" {
		return "no fixed version (--ignore-unfixed)"
	}
	for _, r := range p.Ignore {
		if r.matches(f, now) {
			reason := "ignored by " + r.ID
			if r.Reason != "" {
				reason += ": " + r.Reason
			}
			return reason
		}
	}
	if s := p.vexFor(f); s != nil {
		reason := "VEX " + s.Status
		if s.Justification != "" {
			reason += " (" + s.Justification + ")"
		}
		return reason
	}
	return ""
}

// idMatches reports whether id names the finding or one of its aliases.
func idMatches(id string, f model.Finding) bool {
	id = strings.TrimSpace(id)
	if id == "" {
		return false
	}
	if strings.EqualFold(id, f.ID) {
		return true
	}
	for _, a := range f.Aliases {
		if strings.EqualFold(id, a) {
			return true
		}
	}
	return false
}

// packageMatches reports whether name names the finding's package: its
// name, source package name or purl.
func packageMatches(name string, f model.Finding) bool {
	if f.Package == nil {
		return false
	}
	return name == f.Package.Name || name == f.Package.SourceName || (f.Package.PURL != "" && purlEqual(name, f.Package.PURL))
}

// purlEqual compares package URLs without qualifiers and subpath.
func purlEqual(a, b string) bool {
	trim := func(s string) string {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	return trim(a) == trim(b)
}

// pathMatches reports whether pattern (a path or a path.Match glob, with or
// without a leading slash) names the finding's path.
func pathMatches(pattern string, f model.Finding) bool {
	pattern = strings.TrimPrefix(pattern, "/")
	if pattern == f.Path {
		return true
	}
	ok, err := path.Match(pattern, f.Path)
	return err == nil && ok
}
