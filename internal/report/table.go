package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("table", writeTable) }

// writeTable writes a summary for people: what was scanned, then findings
// grouped by class, then the package list.
func writeTable(w io.Writer, r *Report) error {
	a := r.Artifact
	fmt.Fprintf(w, "%s (%s)\n", a.Input, a.Source)
	if a.Digest != "" {
		fmt.Fprintf(w, "Digest: %s\n", a.Digest)
	}
	if a.OS != nil {
		name := a.OS.Name
		if name == "" {
			name = a.OS.Family + " " + a.OS.Version
		}
		fmt.Fprintf(w, "OS:     %s\n", name)
	}
	fmt.Fprintf(w, "Layers: %d   Packages: %d   Findings: %d", len(a.Layers), len(r.Packages), len(r.Findings))
	if len(r.Findings) > 0 {
		fmt.Fprintf(w, " (%s)", severityLine(r.Summary.BySeverity))
	}
	fmt.Fprintln(w)

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
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tID\tWHERE\tTITLE")
		for _, f := range fs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, f.ID, where(f), oneLine(f.Title, 100))
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Type, p.Name, p.Version, src, p.Path)
		}
		tw.Flush()
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", oneLine(warn, 300))
	}
	return nil
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
		s = s[:n-3] + "..."
	}
	return s
}
