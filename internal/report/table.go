package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("table", writeTable) }

// Colored marks w as a terminal: the table writer then colours
// severities. Wrap only a terminal; files and pipes get plain text.
func Colored(w io.Writer) io.Writer { return colored{w} }

type colored struct{ io.Writer }

// palette colours severities, or does nothing when off. Every code has the
// same length, so that tabwriter columns stay aligned.
type palette bool

var severityColors = map[model.Severity]string{
	model.Critical: "\x1b[1;31m", model.High: "\x1b[0;31m", model.Medium: "\x1b[0;33m",
	model.Low: "\x1b[0;34m", model.Unknown: "\x1b[0;39m",
}

func (p palette) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + "\x1b[0m"
}

func (p palette) severity(s model.Severity) string {
	if s == "" {
		s = model.Unknown
	}
	code, ok := severityColors[s]
	if !ok {
		code = severityColors[model.Unknown]
	}
	return p.paint(code, clean(string(s)))
}

func (p palette) header(s string) string { return p.paint("\x1b[1;39m", s) }

// writeTable writes a summary for people: what was scanned, then findings
// grouped by class (vulnerabilities by package), then the package list.
// Text from the image or the advisories never reaches the terminal with
// control characters in it.
func writeTable(w io.Writer, r *Report) error {
	_, isColored := w.(colored)
	color := palette(isColored)
	a := r.Artifact
	fmt.Fprintf(w, "%s (%s)\n", clean(a.Input), clean(a.Source))
	if a.Digest != "" {
		fmt.Fprintf(w, "Digest: %s\n", clean(a.Digest))
	}
	if a.OS != nil {
		name := a.OS.Name
		if name == "" {
			name = a.OS.Family + " " + a.OS.Version
		}
		fmt.Fprintf(w, "OS:     %s\n", clean(name))
	}
	fmt.Fprintf(w, "Layers: %d   Packages: %d   Findings: %d", len(a.Layers), len(r.Packages), len(r.Findings))
	if len(r.Findings) > 0 {
		fmt.Fprintf(w, " (%s)", severityLine(r.Summary.BySeverity))
	}
	fmt.Fprintln(w)
	if line := coverageLine(r.Coverage); line != "" {
		fmt.Fprintf(w, "Vulnerability data: %s\n", oneLine(line, 400))
	}
	if v := r.Verdict; v != nil {
		fmt.Fprintf(w, "Policy: %s by rule %s: %s\n", strings.ToUpper(string(v.Action)), clean(v.Rule), oneLine(v.Reason, 300))
		for _, f := range v.Findings {
			fmt.Fprintf(w, "  %s %s %s\n", color.severity(f.Severity), clean(f.ID), clean(f.Package))
		}
		for _, e := range v.Exceptions {
			fmt.Fprintf(w, "  excepted: %s\n", oneLine(e, 300))
		}
	}

	byClass := map[model.Class][]model.Finding{}
	var classes []string
	for _, f := range r.Findings {
		if _, ok := byClass[f.Class]; !ok {
			classes = append(classes, string(f.Class))
		}
		byClass[f.Class] = append(byClass[f.Class], f)
	}
	sort.Strings(classes)
	for _, c := range classes {
		fs := byClass[model.Class(c)]
		fmt.Fprintf(w, "\n%s (%d)\n", strings.ToUpper(c), len(fs))
		if model.Class(c) == model.ClassVulnerability {
			writeVulnerabilities(w, fs, color)
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\tID\tWHERE\tTITLE\n", color.header("SEVERITY"))
		for _, f := range fs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", color.severity(f.Severity), clean(f.ID), clean(where(f)), oneLine(f.Title, 100))
		}
		tw.Flush()
	}
	if len(r.Packages) > 0 {
		fmt.Fprintf(w, "\nPACKAGES (%d)\n", len(r.Packages))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tNAME\tVERSION\tSOURCE\tPATH")
		for _, p := range r.Packages {
			src := p.SourceName
			if src != "" && p.SourceVersion != "" && p.SourceVersion != p.Version {
				src += " " + p.SourceVersion
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(p.Type), clean(p.Name), clean(p.Version), clean(src), clean(p.Path))
		}
		tw.Flush()
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", oneLine(warn, 300))
	}
	return nil
}

// writeVulnerabilities lists vulnerability findings under their package:
// its name, type, installed version and path, then one row per
// vulnerability with the version that fixes it. Packages with the most
// severe findings come first.
func writeVulnerabilities(w io.Writer, fs []model.Finding, color palette) {
	type group struct {
		head  string
		worst int
		fs    []model.Finding
	}
	groups := map[string]*group{}
	var order []*group
	for _, f := range fs {
		head := "(no package)"
		if f.Package != nil {
			head = f.Package.Name + " " + f.InstalledVersion + " (" + f.Package.Type
			if f.Package.SourceName != "" && f.Package.SourceName != f.Package.Name {
				head += ", source " + f.Package.SourceName
			}
			head += ")"
		}
		if f.Path != "" {
			head += " /" + f.Path
		}
		g, ok := groups[head]
		if !ok {
			g = &group{head: head, worst: -1}
			groups[head] = g
			order = append(order, g)
		}
		g.fs = append(g.fs, f)
		g.worst = max(g.worst, f.Severity.Rank())
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].worst != order[j].worst {
			return order[i].worst > order[j].worst
		}
		return order[i].head < order[j].head
	})
	for _, g := range order {
		sort.SliceStable(g.fs, func(i, j int) bool {
			a, b := g.fs[i], g.fs[j]
			if a.Severity.Rank() != b.Severity.Rank() {
				return a.Severity.Rank() > b.Severity.Rank()
			}
			return a.ID < b.ID
		})
		fmt.Fprintf(w, "\n%s\n", oneLine(g.head, 300))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  %s\tID\tINSTALLED -> FIXED\tTITLE\n", color.header("SEVERITY"))
		for _, f := range g.fs {
			fix := "(no fix yet)"
			if f.FixedVersion != "" {
				fix = f.FixedVersion
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", color.severity(f.Severity), clean(f.ID),
				clean(f.InstalledVersion+" -> "+fix), oneLine(f.Title, 100))
		}
		tw.Flush()
	}
}

func where(f model.Finding) string {
	switch {
	case f.Package != nil:
		s := f.Package.Name + " " + f.InstalledVersion
		if f.FixedVersion != "" {
			s += " -> " + f.FixedVersion
		}
		return s
	case f.Path != "":
		s := "/" + f.Path
		if f.Line > 0 {
			s += fmt.Sprintf(":%d", f.Line)
		}
		if f.RemovedInFinal {
			s += " (removed)"
		}
		return s
	}
	return f.Location
}

func severityLine(m map[string]int) string {
	var parts []string
	for _, s := range []model.Severity{model.Critical, model.High, model.Medium, model.Low, model.Unknown} {
		if n := m[string(s)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n - 3
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return clean(s)
}

// clean replaces control characters (which could move the cursor or
// change colours on a terminal) and invalid UTF-8 with U+FFFD.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// coverageLine sums up the report's coverage in one line: the database,
// each ecosystem's records, and what was missing.
func coverageLine(c *Coverage) string {
	if c == nil {
		return ""
	}
	var parts []string
	switch c.Vulnerabilities {
	case CoverageNotSelected:
		return "not matched (vuln scanner not selected)"
	case CoverageNoData:
		parts = append(parts, "NONE")
	}
	if d := c.Database; d != nil {
		s := fmt.Sprintf("%d records", d.Records)
		if !d.Updated.IsZero() {
			s += ", updated " + d.Updated.Format("2006-01-02")
		}
		parts = append(parts, s)
	}
	var eco []string
	for _, e := range c.Ecosystems {
		if e.Usable() {
			eco = append(eco, fmt.Sprintf("%s %d/%d packages", e.Ecosystem, e.Matched, e.Packages))
		}
	}
	if len(eco) > 0 {
		parts = append(parts, strings.Join(eco, ", "))
	}
	if len(c.Missing) > 0 {
		parts = append(parts, "MISSING: "+strings.Join(c.Missing, "; "))
	}
	return strings.Join(parts, "; ")
}
