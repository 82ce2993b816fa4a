package match

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// rated is a severity with where it came from.
type rated struct {
	severity model.Severity
	vector   string
	score    string
	// source: "cvss_v4", "cvss_v3", "cvss_v2", "ghsa", "ubuntu", "debian",
	// or "alias:<id>/<cvss source>" for a vector of an aliased record.
	source string
}

// severityOf rates a group of records: the highest CVSS rating found in any
// of them (v4 before v3.x before v2 within a record), else the highest
// CVSS rating of the other records of the database known by one of the
// group's ids (see ids) that are about that id themselves: osv.dev's CVE
// records, which carry the CNA's and NVD's vectors, Ubuntu's or GHSA's
// records of the same CVE; else the highest of the sources' own ratings
// (GHSA, Ubuntu priority, Debian urgency); else UNKNOWN.
func severityOf(group []hit, t target, aliased map[string][]*vulndb.Record) rated {
	var best rated
	have := false
	own := map[string]bool{}
	for _, h := range group {
		own[h.rec.ID] = true
		if r, ok := cvssOf(h.rec, t); ok && (!have || r.severity.Rank() > best.severity.Rank()) {
			best, have = r, true
		}
	}
	if have {
		return best
	}
	var names []string
	seen := map[string]bool{}
	for _, h := range group {
		for _, id := range ids(h.rec) {
			if !seen[id] {
				seen[id] = true
				names = append(names, id)
			}
		}
	}
	sort.Strings(names)
	for _, id := range names {
		for _, rec := range aliased[id] {
			// An advisory that fixes several CVEs is about none of them.
			if own[rec.ID] || rec.Withdrawn != "" || !slices.Contains(ids(rec), id) {
				continue
			}
			if r, ok := cvssOf(rec, t); ok && (!have || r.severity.Rank() > best.severity.Rank()) {
				r.source = "alias:" + rec.ID + "/" + r.source
				best, have = r, true
			}
		}
	}
	if have {
		return best
	}
	best = rated{severity: model.Unknown}
	for _, h := range group {
		if r, ok := ownRating(h.rec, t); ok && r.severity.Rank() > best.severity.Rank() {
			best = r
		}
	}
	return best
}

// cvssOf scores the record's CVSS vectors: those of the affected entry
// for the package first, then the record's own.
func cvssOf(r *vulndb.Record, t target) (rated, bool) {
	var sevs []vulndb.Severity
	for _, a := range r.Affected {
		if vulndb.Base(a.Package.Ecosystem) == t.base && t.accept(a.Package.Ecosystem) {
			sevs = append(sevs, a.Severity...)
		}
	}
	sevs = append(sevs, r.Severity...)
	for _, typ := range []string{"CVSS_V4", "CVSS_V3", "CVSS_V2"} {
		for _, s := range sevs {
			if s.Type != typ {
				continue
			}
			if score, ok := ScoreVector(s.Score); ok {
				return rated{severity: fromScore(score, typ == "CVSS_V2"), vector: s.Score,
					score: strconv.FormatFloat(score, 'f', 1, 64), source: strings.ToLower(typ)}, true
			}
		}
	}
	return rated{}, false
}

// ScoreVector returns the base score of a CVSS v2, v3.0, v3.1 or v4.0
// vector, and false when the vector does not parse.
func ScoreVector(vector string) (float64, bool) {
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.Score(), true
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	default:
		c, err := gocvss20.ParseVector(strings.TrimPrefix(vector, "CVSS:2.0/"))
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	}
}

// fromScore maps a base score to a severity with the CVSS rating scale
// (v2 has no CRITICAL band: 7.0-10.0 is HIGH).
func fromScore(s float64, v2 bool) model.Severity {
	switch {
	case s >= 9.0 && !v2:
		return model.Critical
	case s >= 7.0:
		return model.High
	case s >= 4.0:
		return model.Medium
	case s > 0:
		return model.Low
	}
	return model.Unknown
}

// ownRating reads a source's own rating: GHSA database_specific.severity,
// an Ubuntu priority in a severity entry of type "Ubuntu" or as "priority"
// in ecosystem_specific or database_specific, or a Debian urgency in
// ecosystem_specific or database_specific.
func ownRating(r *vulndb.Record, t target) (rated, bool) {
	if s, ok := r.DatabaseSpecific["severity"].(string); ok {
		if sev, ok := ratingWord(s); ok {
			return rated{severity: sev, source: "ghsa"}, true
		}
	}
	for _, a := range r.Affected {
		if vulndb.Base(a.Package.Ecosystem) != t.base || !t.accept(a.Package.Ecosystem) {
			continue
		}
		for _, s := range a.Severity {
			if s.Type == "Ubuntu" {
				if sev, ok := ratingWord(s.Score); ok {
					return rated{severity: sev, source: "ubuntu"}, true
				}
			}
		}
		for _, m := range []map[string]any{a.EcosystemSpecific, a.DatabaseSpecific} {
			if u, ok := m["urgency"].(string); ok {
				if sev, ok := ratingWord(u); ok {
					return rated{severity: sev, source: "debian"}, true
				}
			}
			if u, ok := m["priority"].(string); ok {
				if sev, ok := ratingWord(u); ok {
					return rated{severity: sev, source: "ubuntu"}, true
				}
			}
		}
	}
	for _, s := range r.Severity {
		if s.Type == "Ubuntu" {
			if sev, ok := ratingWord(s.Score); ok {
				return rated{severity: sev, source: "ubuntu"}, true
			}
		}
	}
	return rated{}, false
}

// ratingWord maps the words sources use (GHSA MODERATE, Ubuntu
// negligible, Debian unimportant, "high*" urgencies) to severities.
func ratingWord(w string) (model.Severity, bool) {
	switch strings.TrimRight(strings.ToLower(strings.TrimSpace(w)), "*") {
	case "critical":
		return model.Critical, true
	case "high", "important":
		return model.High, true
	case "moderate", "medium":
		return model.Medium, true
	case "low", "negligible", "unimportant":
		return model.Low, true
	}
	return "", false
}
