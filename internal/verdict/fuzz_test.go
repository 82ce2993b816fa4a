package verdict_test

import (
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/verdict"
)

// FuzzParse: whatever the text, Parse returns a policy or an error, never
// panics, and a policy it returns decides with one of the three actions
// and names the rule that decided. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := verdict.Parse(b)
		if err != nil {
			if p != nil {
				t.Fatal("a policy with an error")
			}
			return
		}
		if len(b) > verdict.MaxPolicyBytes {
			t.Fatalf("accepted %d bytes", len(b))
		}
		img := verdict.Image{Registry: "registry.example.com", Repository: "team/app", Tag: "latest"}
		for _, rep := range []bool{false, true} {
			in := verdict.Input{Image: img, Namespace: "prod", Host: "node-1", Now: now}
			if rep {
				in.Report = rep1()
			}
			v := p.Evaluate(in)
			switch v.Action {
			case verdict.Deny, verdict.Warn, verdict.Allow:
			default:
				t.Fatalf("action %q", v.Action)
			}
			if v.Rule == "" || v.Reason == "" {
				t.Fatalf("verdict without rule or reason: %+v", v)
			}
		}
	})
}

func rep1() *report.Report {
	return rep(vuln("CVE-2024-1", model.Critical, "1.1", "9.8", "2024-01-01T00:00:00Z"),
		model.Finding{Class: model.ClassIntegrity, ID: "integrity-unsigned", Severity: model.Critical},
		model.Finding{Class: model.ClassMisconfiguration, ID: "user-root", Severity: model.Medium})
}
