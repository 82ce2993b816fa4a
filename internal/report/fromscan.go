package report

import (
	"time"

	"github.com/customs-scanner/customs/internal/scan"
)

// FromScan builds a report from a scan result.
func FromScan(res *scan.Result, version string) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "customs", Version: version},
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		Artifact: Artifact{
			Input:  res.Meta.Input,
			Source: res.Meta.Kind,
			Name:   res.Meta.Name,
			Digest: res.Meta.Digest,
			OS:     res.OS,
			Layers: res.Layers,
		},
		Packages: res.Packages,
		Findings: res.Findings,
		Warnings: res.Warnings,
	}
	if c := res.Meta.Config; c != nil {
		r.Artifact.Architecture = c.Architecture
	}
	r.Summarize()
	return r
}
