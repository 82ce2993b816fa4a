package policy

import (
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

func TestPolicy(t *testing.T) {
	glibc := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2023-4911", Aliases: []string{"DSA-5514-1"}, Severity: model.High,
		FixedVersion: "2.36-9+deb12u3", Path: "var/lib/dpkg/status",
		Package: &model.PackageRef{Name: "libc6", SourceName: "glibc", PURL: "pkg:deb/debian/libc6@2.36-9+deb12u1?arch=amd64"}}
	zlib := model.Finding{Class: model.ClassVulnerability, ID: "CVE-2023-45853", Severity: model.Low, Package: &model.PackageRef{Name: "zlib1g"}}
	now := time.Date(2025, 6, 30, 18, 0, 0, 0, time.UTC)
	rules, err := ParseIgnore([]byte(`ignore:
  - id: DSA-5514-1
    package: glibc
    expires: 2025-06-30
    reason: no setuid binaries
  - id: CVE-2023-45853
    path: usr/lib/*
`))
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Ignore: rules, Now: now}
	kept, sup := p.Apply([]model.Finding{glibc, zlib})
	if len(kept) != 1 || kept[0].ID != "CVE-2023-45853" || len(sup) != 1 || sup[0].Reason != "ignored by DSA-5514-1: no setuid binaries" {
		t.Fatalf("kept %v suppressed %v", kept, sup)
	}
	p.Now = now.Add(7 * time.Hour) // 2025-07-01: the entry has expired
	if kept, _ := p.Apply([]model.Finding{glibc}); len(kept) != 1 {
		t.Fatal("expired entry still suppresses")
	}
	p = &Policy{Severities: []model.Severity{model.High, model.Critical}}
	if kept, _ := p.Apply([]model.Finding{glibc, zlib}); len(kept) != 1 || kept[0].ID != glibc.ID {
		t.Fatalf("severity filter kept %v", kept)
	}
	p = &Policy{IgnoreUnfixed: true}
	if kept, _ := p.Apply([]model.Finding{glibc, zlib}); len(kept) != 1 || kept[0].ID != glibc.ID {
		t.Fatalf("ignore-unfixed kept %v", kept)
	}
	vex, err := ParseVEX([]byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "2025-01-01T00:00:00Z",
	  "statements": [
	    {"vulnerability": {"name": "CVE-2023-4911"}, "products": [{"@id": "pkg:oci/app@sha256%3Aabc", "subcomponents": [{"@id": "pkg:deb/debian/libc6@2.36-9+deb12u1"}]}],
	     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
	    {"vulnerability": {"name": "CVE-2023-45853"}, "products": [{"@id": "pkg:oci/app@sha256%3Aabc"}], "status": "under_investigation"}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	p = &Policy{VEX: vex, Image: []string{"sha256:abc"}}
	kept, sup = p.Apply([]model.Finding{glibc, zlib})
	if len(kept) != 1 || kept[0].ID != zlib.ID || sup[0].Reason != "VEX not_affected (vulnerable_code_not_in_execute_path)" {
		t.Fatalf("vex kept %v suppressed %v", kept, sup)
	}
	if _, err := ParseSeverities([]string{"HIGH,severe"}); err == nil {
		t.Fatal("bad severity accepted")
	}
}
