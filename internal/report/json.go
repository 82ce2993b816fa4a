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
	if out.Findings == nil {
		out.Findings = []model.Finding{}
	}
	if out.Artifact.Layers == nil {
		out.Artifact.Layers = []model.Layer{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}
