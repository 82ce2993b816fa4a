package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
)

// Severities are coloured only through Colored; plain writers (files,
// pipes) get no escape sequences, and columns stay aligned either way.
func TestTableColors(t *testing.T) {
	plain := string(write(t, "table", sampleReport()))
	if strings.Contains(plain, "\x1b") {
		t.Fatalf("escape sequence in plain output:\n%q", plain)
	}
	var buf bytes.Buffer
	if err := Write(Colored(&buf), "table", sampleReport()); err != nil {
		t.Fatal(err)
	}
	colored := buf.String()
	for _, want := range []string{
		"  \x1b[1;39mSEVERITY\x1b[0m  ID              INSTALLED -> FIXED  TITLE\n" +
			"  \x1b[1;31mCRITICAL\x1b[0m  CVE-2021-44228  2.14.1 -> 2.15.0    ",
		"  \x1b[0;33mMEDIUM\x1b[0m    CVE-2023-5678  ",
		"\x1b[0;31mHIGH\x1b[0m",
		"\x1b[0;34mLOW\x1b[0m",
		"\x1b[0;39mUNKNOWN\x1b[0m",
	} {
		if !strings.Contains(colored, want) {
			t.Errorf("coloured table lacks %q:\n%s", want, colored)
		}
	}
	// Without the escapes the coloured table is the plain one.
	if stripped := stripPalette(colored); stripped != plain {
		t.Errorf("coloured table differs from the plain one beyond colours:\n%s\n---\n%s", stripped, plain)
	}
}

// Names, versions and titles come from the image and the advisories: an
// escape sequence in them must not reach the terminal.
func TestTableControlCharacters(t *testing.T) {
	r := sampleReport()
	r.Artifact.Input = "evil\x1b]0;owned\x07"
	r.Packages[0].Name = "libssl3\x1b[2J"
	r.Findings[0].Title = "title\x1b[31m red\r\x9b"
	r.Findings[0].Package.Name = "pkg\x1b[1A"
	r.Findings = append(r.Findings, model.Finding{Class: model.ClassSecret, ID: "x\x1b", Path: "a\x1b[2Kb", Severity: "\x1b[5m"})
	r.Summarize()
	if out := write(t, "table", r); bytes.ContainsAny(out, "\x1b\x07\r\u009b") {
		t.Fatalf("control characters reach the output:\n%q", out)
	}
	var buf bytes.Buffer
	if err := Write(Colored(&buf), "table", r); err != nil {
		t.Fatal(err)
	}
	if rest := stripPalette(buf.String()); strings.Contains(rest, "\x1b") {
		t.Errorf("escapes other than the palette's reach the terminal:\n%q", rest)
	}
}

func stripPalette(s string) string {
	for _, code := range []string{"\x1b[1;31m", "\x1b[0;31m", "\x1b[0;33m", "\x1b[0;34m", "\x1b[0;39m", "\x1b[1;39m", "\x1b[0m"} {
		s = strings.ReplaceAll(s, code, "")
	}
	return s
}
