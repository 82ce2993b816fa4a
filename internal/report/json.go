package report

import (
	"encoding/json"
	"io"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("json", writeJSON) }

func writeJSON(w io.Writer, r *Report) error {
	out := *r
	if out.Packages == nil {
		out.Packages = []model.Package{}
	}
	out.Findings = make([]model.Finding, len(r.Findings))
	for i, f := range r.Findings {
		if f.Severity == "" {
			f.Severity = model.Unknown // the zero value, spelled out
		}
		out.Findings[i] = f
	}
	if out.Artifact.Layers == nil {
		out.Artifact.Layers = []model.Layer{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}
