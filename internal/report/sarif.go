package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/customs-scanner/customs/internal/model"
)

func init() { Register("sarif", writeSARIF) }

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifMarkdown struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 sarifMarkdown  `json:"help"`
	DefaultConfiguration sarifLevel     `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifLevel struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          *sarifText    `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// writeSARIF writes findings as SARIF 2.1.0: one rule per finding id with
// help text, one result per finding located at its path in the image (the
// image itself for findings outside files), naming the layer.
func writeSARIF(w io.Writer, r *Report) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{
		Name: "customs", Version: r.Tool.Version, InformationURI: "https://github.com/customs-scanner/customs",
		Rules: []sarifRule{},
	}}, Results: []sarifResult{}}
	index := map[string]int{}
	for _, f := range r.Findings {
		ruleID := f.ID
		if ruleID == "" {
			ruleID = string(f.Class)
		}
		i, ok := index[ruleID]
		if !ok {
			i = len(run.Tool.Driver.Rules)
			index[ruleID] = i
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(ruleID, f))
		}
		run.Results = append(run.Results, sarifResultFor(ruleID, i, f, r))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

func sarifLevelOf(s model.Severity) string {
	switch s {
	case model.Critical, model.High:
		return "error"
	case model.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the number GitHub ranks alerts by.
func securitySeverity(f model.Finding) string {
	if s := f.Extra["cvss_score"]; s != "" {
		return s
	}
	switch f.Severity {
	case model.Critical:
		return "9.5"
	case model.High:
		return "8.0"
	case model.Medium:
		return "5.5"
	case model.Low:
		return "2.0"
	}
	return "0.0"
}

func sarifRuleFor(id string, f model.Finding) sarifRule {
	title := f.Title
	if title == "" {
		title = id
	}
	full := f.Description
	if full == "" {
		full = title
	}
	var md strings.Builder
	fmt.Fprintf(&md, "**%s** (%s, %s)\n\n%s\n", id, f.Class, f.Severity, full)
	text := fmt.Sprintf("%s (%s, %s)\n%s", id, f.Class, f.Severity, full)
	if f.Package != nil {
		fix := "no fixed version is known yet"
		if f.FixedVersion != "" {
			fix = "upgrade to " + f.FixedVersion + " or later"
		}
		fmt.Fprintf(&md, "\n| package | installed | fix |\n|---|---|---|\n| %s | %s | %s |\n", f.Package.Name, f.InstalledVersion, fix)
		text += fmt.Sprintf("\nPackage %s %s: %s.", f.Package.Name, f.InstalledVersion, fix)
	}
	if len(f.Aliases) > 0 {
		fmt.Fprintf(&md, "\nAlso known as: %s\n", strings.Join(f.Aliases, ", "))
	}
	for _, ref := range f.References {
		fmt.Fprintf(&md, "\n- <%s>", ref)
	}
	rule := sarifRule{
		ID: id, Name: ruleName(f), ShortDescription: sarifText{Text: oneLine(title, 200)}, FullDescription: sarifText{Text: full},
		Help:                 sarifMarkdown{Text: text, Markdown: md.String()},
		DefaultConfiguration: sarifLevel{Level: sarifLevelOf(f.Severity)},
		Properties: map[string]any{
			"tags":              []string{"security", string(f.Class)},
			"precision":         "very-high",
			"security-severity": securitySeverity(f),
		},
	}
	if len(f.References) > 0 {
		rule.HelpURI = f.References[0]
	}
	return rule
}

// ruleName is a PascalCase name of the finding class, as SARIF names rules.
func ruleName(f model.Finding) string {
	parts := strings.FieldsFunc(string(f.Class), func(r rune) bool { return r == '_' || r == '-' })
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	if f.Package != nil {
		b.WriteString("In" + strings.ToUpper(f.Package.Type[:min(1, len(f.Package.Type))]) + f.Package.Type[min(1, len(f.Package.Type)):] + "Package")
	}
	return b.String()
}

func sarifResultFor(ruleID string, i int, f model.Finding, r *Report) sarifResult {
	uri := f.Path
	if uri == "" {
		uri = imageURI(r)
	}
	uri = (&url.URL{Path: uri}).String() // a relative URI reference, whatever the path holds
	var msg strings.Builder
	msg.WriteString(ruleID)
	if f.Package != nil {
		fmt.Fprintf(&msg, " in %s %s", f.Package.Name, f.InstalledVersion)
		if f.FixedVersion != "" {
			fmt.Fprintf(&msg, " (fixed in %s)", f.FixedVersion)
		}
	}
	if f.Title != "" && f.Title != ruleID {
		msg.WriteString(": " + oneLine(f.Title, 200))
	}
	where := []string{}
	if f.LayerDiffID != "" {
		where = append(where, "layer "+f.LayerDiffID)
	}
	if f.Location != "" {
		where = append(where, f.Location)
	}
	if f.RemovedInFinal {
		where = append(where, "removed in the final image but still shipped in its layer")
	}
	res := sarifResult{
		RuleID: ruleID, RuleIndex: i, Level: sarifLevelOf(f.Severity), Message: sarifText{Text: msg.String()},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}}},
	}
	if f.Line > 0 {
		res.Locations[0].PhysicalLocation.Region = &sarifRegion{StartLine: f.Line}
	}
	if len(where) > 0 {
		res.Locations[0].Message = &sarifText{Text: strings.Join(where, "; ")}
	}
	fp := []string{ruleID, uri, f.LayerDiffID}
	if f.Package != nil {
		fp = append(fp, f.Package.Name, f.InstalledVersion)
	}
	res.PartialFingerprints = map[string]string{"customs/v1": strings.Join(fp, "|")}
	return res
}

func imageURI(r *Report) string {
	for _, s := range []string{r.Artifact.Name, r.Artifact.Input} {
		if s != "" {
			return strings.TrimPrefix(s, "/")
		}
	}
	return "image"
}
