package match

import (
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

var (
	cveID = regexp.MustCompile(`^CVE-\d{4}-\d+$`)
	// distroCVE is a distribution's record of one CVE (DEBIAN-CVE-2022-37434).
	distroCVE = regexp.MustCompile(`^[A-Z]+-(CVE-\d{4}-\d+)$`)
)

// ids are the identifiers a record is known by: its id, its aliases, and,
// when its upstream names exactly one CVE (directly or as a distribution's
// record of it, as DSA-5218-1 names CVE-2022-37434 and
// DEBIAN-CVE-2022-37434), those upstream ids. An advisory that fixes
// several CVEs is none of them.
func ids(r *vulndb.Record) []string {
	out := append([]string{r.ID}, r.Aliases...)
	cves := map[string]bool{}
	for _, u := range r.Upstream {
		switch {
		case cveID.MatchString(u):
			cves[u] = true
		case distroCVE.MatchString(u):
			cves[distroCVE.FindStringSubmatch(u)[1]] = true
		}
	}
	if len(cves) == 1 {
		for c := range cves {
			out = append(out, c)
		}
		for _, u := range r.Upstream {
			if distroCVE.MatchString(u) {
				out = append(out, u)
			}
		}
	}
	return out
}

// findings groups the hits that are aliases of each other into one finding
// each: one weakness, one finding per package.
// aliased holds the records of the database known by the hits' ids, for
// severities (see severityOf).
func findings(p *model.Package, t target, hits []hit, aliased map[string][]*vulndb.Record) []model.Finding {
	if len(hits) == 0 {
		return nil
	}
	parent := make([]int, len(hits))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{}
	for i, h := range hits {
		for _, id := range ids(h.rec) {
			if j, ok := owner[id]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[id] = i
			}
		}
	}
	groups := map[int][]hit{}
	var roots []int
	for i, h := range hits {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], h)
	}
	var out []model.Finding
	for _, r := range roots {
		out = append(out, finding(p, t, groups[r], aliased))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func finding(p *model.Package, t target, group []hit, aliased map[string][]*vulndb.Record) model.Finding {
	sort.Slice(group, func(i, j int) bool { return group[i].rec.ID < group[j].rec.ID })
	all := map[string]bool{}
	var cves []string
	fixed := ""
	malware := false
	for _, h := range group {
		for _, id := range ids(h.rec) {
			if !all[id] {
				all[id] = true
				if cveID.MatchString(id) {
					cves = append(cves, id)
				}
			}
		}
		if h.rec.IsMalware() {
			malware = true
		}
	}
	// fixed: the lowest fix any record of the group names; empty when no
	// record knows a fix.
	for _, h := range group {
		fixed = lower(fixed, h.fixed, t.base)
	}
	sort.Strings(cves)
	id := group[0].rec.ID
	for _, h := range group {
		if h.rec.IsMalware() {
			id = h.rec.ID
			break
		}
	}
	if !malware && len(cves) > 0 {
		id = cves[0]
	}
	var aliases []string
	for a := range all {
		if a != id {
			aliases = append(aliases, a)
		}
	}
	sort.Strings(aliases)
	f := model.Finding{
		Class:            model.ClassVulnerability,
		ID:               id,
		Package:          p.Ref(),
		InstalledVersion: p.Version,
		FixedVersion:     fixed,
		Path:             p.Path,
		LayerDiffID:      p.LayerDiffID,
		Aliases:          aliases,
		Extra:            map[string]string{"ecosystem": t.base, "osv_ids": joinIDs(group)},
	}
	if t.version != p.Version {
		f.Extra["matched_version"] = t.version
	}
	if t.name != p.Name {
		f.Extra["matched_package"] = t.name
	}
	best := severityOf(group, t, aliased)
	f.Severity = best.severity
	if best.vector != "" {
		f.Extra["cvss_vector"] = best.vector
		f.Extra["cvss_score"] = best.score
	}
	if best.source != "" {
		f.Extra["severity_source"] = best.source
	}
	if p := published(group); p != "" {
		f.Extra["published"] = p
	}
	for _, h := range group {
		if f.Title == "" {
			f.Title = strings.TrimSpace(h.rec.Summary)
		}
		if f.Description == "" {
			f.Description = truncate(strings.TrimSpace(h.rec.Details), maxDescription)
		}
		for _, ref := range h.rec.References {
			if ref.URL != "" && len(f.References) < 20 && !contains(f.References, ref.URL) {
				f.References = append(f.References, ref.URL)
			}
		}
	}
	if f.Title == "" {
		f.Title = firstLine(f.Description, 120)
	}
	if f.Title == "" {
		f.Title = id
	}
	if malware {
		f.Class = model.ClassMalware
		f.Severity = model.Critical
		f.FixedVersion = ""
		f.Description = "The installed package is published as malicious: remove it, and treat the image and any secret it held as compromised. " + f.Description
		delete(f.Extra, "severity_source")
	}
	return f
}

// published is when the first record of group was published, in RFC
// 3339: how long the advisory has been known. Empty when no record says.
func published(group []hit) string {
	var first time.Time
	for _, h := range group {
		t, err := time.Parse(time.RFC3339, h.rec.Published)
		if err == nil && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if first.IsZero() {
		return ""
	}
	return first.UTC().Format(time.RFC3339)
}

func joinIDs(group []hit) string {
	s := make([]string, len(group))
	for i, h := range group {
		s[i] = h.rec.ID
	}
	return strings.Join(s, ",")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

func firstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return truncate(s, n)
}
