package report

import (
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report/schematest"
)

// TestVerdict: a policy's verdict is in the JSON report, valid against the
// schema, and in the table.
func TestVerdict(t *testing.T) {
	r := sampleReport()
	r.Verdict = &model.Verdict{Action: model.ActionDeny, Rule: "fixable-critical", Reason: "1 fixable finding of severity CRITICAL or above",
		Policy:     "prod@sha256:" + strings.Repeat("a", 64),
		Findings:   []model.VerdictFinding{{Class: model.ClassVulnerability, ID: "CVE-2023-1", Severity: model.Critical, Package: "openssl@3.0.1", FixedVersion: "3.0.2"}},
		Exceptions: []string{"every rule: accepted (until 2027-01-01)"}}
	schematest.Validate(t, schematest.ReportURL, write(t, "json", r))
	table := string(write(t, "table", r))
	for _, want := range []string{"Policy: DENY by rule fixable-critical: 1 fixable finding", "CRITICAL CVE-2023-1 openssl@3.0.1", "excepted: every rule: accepted"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	r.Verdict.Action = "block"
	if schematest.Check(schematest.ReportURL, write(t, "json", r)) == nil {
		t.Error("schema accepted an unknown action")
	}
}
