package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report/schematest"
)

// sarifDoc is the part of a SARIF log the tests read back.
type sarifDoc struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Rules []struct {
					ID   string `json:"id"`
					Help struct {
						Text     string `json:"text"`
						Markdown string `json:"markdown"`
					} `json:"help"`
					Properties map[string]any `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
				Message *struct {
					Text string `json:"text"`
				} `json:"message"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

func TestSARIFMatchesSchema(t *testing.T) {
	r := sampleReport()
	out := write(t, "sarif", r)
	schematest.Validate(t, schematest.SARIFURL, out)

	var doc sarifDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if len(run.Results) != len(r.Findings) || len(run.Tool.Driver.Rules) != len(r.Findings) {
		t.Fatalf("%d results, %d rules for %d findings", len(run.Results), len(run.Tool.Driver.Rules), len(r.Findings))
	}
	log4j := run.Results[1]
	rule := run.Tool.Driver.Rules[log4j.RuleIndex]
	if log4j.RuleID != "CVE-2021-44228" || rule.ID != "CVE-2021-44228" || log4j.Level != "error" ||
		rule.Properties["security-severity"] != "10.0" {
		t.Errorf("log4j result %+v, rule %+v", log4j, rule)
	}
	if !strings.Contains(rule.Help.Text, "Package org.apache.logging.log4j:log4j-core 2.14.1: upgrade to 2.15.0 or later.") ||
		!strings.Contains(rule.Help.Markdown, "GHSA-jfh8-c2jp-5v3q") {
		t.Errorf("help %+v", rule.Help)
	}
	loc := log4j.Locations[0]
	if loc.PhysicalLocation.ArtifactLocation.URI != "app/lib/log4j-core-2.14.1.jar" || loc.Message == nil || loc.Message.Text != "layer "+diff1 {
		t.Errorf("log4j location %+v", loc)
	}
	secret := run.Results[4]
	if secret.Locations[0].PhysicalLocation.ArtifactLocation.URI != "app/.env" || secret.Locations[0].PhysicalLocation.Region.StartLine != 3 {
		t.Errorf("secret location %+v", secret.Locations[0])
	}
}

// Paths and names come from the image: whatever they hold, the log stays
// valid (artifact locations are URI references).
func TestSARIFOddPaths(t *testing.T) {
	for _, p := range []string{"app/my file.txt", "usr/share/名前/x", "a/b%zz", "weird:name/x", "x?y#z", "\x00\xff"} {
		r := sampleReport()
		r.Artifact.Name, r.Artifact.Input = p, p
		r.Findings = []model.Finding{
			{Class: model.ClassSecret, ID: "aws-access-token", Severity: model.High, Path: p, Line: 1},
			{Class: model.ClassMisconfiguration, ID: "no-user", Severity: model.Medium, Location: "config.User"},
		}
		r.Summarize()
		if err := schematest.Check(schematest.SARIFURL, write(t, "sarif", r)); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
}

func TestSARIFSchemaRejectsBrokenLogs(t *testing.T) {
	for name, mutate := range map[string]func(m map[string]any){
		"unknown level": func(m map[string]any) {
			m["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)["level"] = "critical"
		},
		"no version":  func(m map[string]any) { delete(m, "version") },
		"extra field": func(m map[string]any) { m["findings"] = 1 },
	} {
		var m map[string]any
		if err := json.Unmarshal(write(t, "sarif", sampleReport()), &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		b, _ := json.Marshal(m)
		if schematest.Check(schematest.SARIFURL, b) == nil {
			t.Errorf("%s: schema accepted the log", name)
		}
	}
}
