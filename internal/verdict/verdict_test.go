package verdict_test

import (
	"strings"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/verdict"
)

var now = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func load(t *testing.T) *verdict.Policy {
	t.Helper()
	p, err := verdict.Load("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func vuln(id string, sev model.Severity, fixed, score, published string) model.Finding {
	f := model.Finding{Class: model.ClassVulnerability, ID: id, Severity: sev, FixedVersion: fixed,
		Package: &model.PackageRef{Name: "openssl", Version: "3.0.1"}, Extra: map[string]string{}}
	if score != "" {
		f.Extra["cvss_score"] = score
	}
	if published != "" {
		f.Extra["published"] = published
	}
	return f
}

func rep(fs ...model.Finding) *report.Report {
	return &report.Report{CreatedAt: now.Add(-time.Hour), Findings: fs}
}

func image(t *testing.T, ref string) verdict.Image {
	t.Helper()
	img, err := verdict.ParseImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestEvaluate(t *testing.T) {
	p := load(t)
	critical := vuln("CVE-2024-9999", model.Critical, "3.0.2", "9.8", "2024-01-01T00:00:00Z")
	excepted := vuln("CVE-2024-0001", model.Critical, "3.0.2", "9.8", "")
	old1 := vuln("CVE-2020-1", model.High, "", "7.5", "2020-01-01T00:00:00Z")
	old2 := vuln("CVE-2020-2", model.High, "", "8.1", "2020-02-01T00:00:00Z")
	recent := vuln("CVE-2026-3", model.High, "", "9.0", now.Add(-24*time.Hour).Format(time.RFC3339))
	malware := model.Finding{Class: model.ClassMalware, ID: "EICAR", Severity: model.Critical, Path: "/eicar"}
	unsigned := model.Finding{Class: model.ClassIntegrity, ID: "integrity-unsigned", Severity: model.Critical}
	drift := model.Finding{Class: model.ClassIntegrity, ID: "integrity-tag-drift", Severity: model.High}
	root := model.Finding{Class: model.ClassMisconfiguration, ID: "user-root", Severity: model.Medium}
	for _, c := range []struct {
		name, ref, ns string
		rep           *report.Report
		scanned       time.Time
		action        verdict.Action
		rule          string
		worst         string
		exceptions    int
	}{
		{"clean", "registry.example.com/team/app:1", "prod-a", rep(), time.Time{}, verdict.Allow, verdict.RuleDefault, "", 0},
		{"unscanned", "registry.example.com/team/app:1", "prod-a", nil, time.Time{}, verdict.Deny, verdict.RuleUnscanned, "", 0},
		{"trusted base, even unscanned", "registry.example.com/base/debian/slim:12", "", nil, time.Time{}, verdict.Allow, "trusted-base-images", "", 0},
		{"malware anywhere", "docker.io/library/nginx:1", "", rep(malware, critical), time.Time{}, verdict.Deny, "malware", "EICAR", 0},
		{"fixable critical in prod", "ghcr.io/o/app:2", "prod-web", rep(old1, critical), time.Time{}, verdict.Deny, "fixable-critical", "CVE-2024-9999", 0},
		{"fixable critical outside prod", "ghcr.io/o/app:2", "dev", rep(critical), time.Time{}, verdict.Allow, verdict.RuleDefault, "", 0},
		{"excepted critical", "ghcr.io/o/app:2", "prod-web", rep(excepted), time.Time{}, verdict.Allow, verdict.RuleDefault, "", 1},
		{"two old highs", "ghcr.io/o/app:2", "", rep(old1, old2, recent), time.Time{}, verdict.Deny, "old-high", "CVE-2020-2", 0},
		{"one old high is not two", "ghcr.io/o/app:2", "", rep(old1, recent), time.Time{}, verdict.Allow, verdict.RuleDefault, "", 0},
		{"unsigned", "ghcr.io/o/app:2", "", rep(unsigned), time.Time{}, verdict.Deny, "supply-chain", "integrity-unsigned", 0},
		{"tag moved", "ghcr.io/o/app:2", "", rep(drift), time.Time{}, verdict.Warn, "integrity", "integrity-tag-drift", 0},
		{"stale scan", "ghcr.io/o/app:2", "", rep(), now.Add(-8 * 24 * time.Hour), verdict.Warn, "stale-scan", "", 0},
		{"root on latest", "nginx:latest", "", rep(root), time.Time{}, verdict.Warn, "root", "user-root", 0},
		{"root on a version", "nginx:1.27", "", rep(root), time.Time{}, verdict.Allow, verdict.RuleDefault, "", 0},
		{"legacy excepted from everything", "docker.io/team/legacy:1", "", rep(malware), time.Time{}, verdict.Allow, verdict.RuleDefault, "", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := p.Evaluate(verdict.Input{Image: image(t, c.ref), Namespace: c.ns, Report: c.rep, ScannedAt: c.scanned, Now: now})
			if v.Action != c.action || v.Rule != c.rule {
				t.Fatalf("got %s by %q (%s), want %s by %q", v.Action, v.Rule, v.Reason, c.action, c.rule)
			}
			if c.worst == "" && len(v.Findings) > 0 || c.worst != "" && (len(v.Findings) == 0 || v.Findings[0].ID != c.worst) {
				t.Errorf("worst findings %+v, want %q first", v.Findings, c.worst)
			}
			if len(v.Exceptions) != c.exceptions {
				t.Errorf("exceptions %q, want %d", v.Exceptions, c.exceptions)
			}
			if v.Reason == "" || !strings.HasPrefix(v.Policy, "production@sha256:") {
				t.Errorf("reason %q policy %q", v.Reason, v.Policy)
			}
		})
	}
}

func TestReason(t *testing.T) {
	p := load(t)
	old := []model.Finding{vuln("CVE-2020-1", model.High, "", "7.5", "2020-01-01T00:00:00Z"), vuln("CVE-2020-2", model.Critical, "", "9.1", "2020-01-01T00:00:00Z")}
	v := p.Evaluate(verdict.Input{Image: image(t, "app:1"), Report: rep(old...), Now: now})
	want := "2 findings of severity HIGH or above with CVSS 7.5 or above published more than 30d ago (at least 2)"
	if v.Reason != want {
		t.Errorf("reason %q, want %q", v.Reason, want)
	}
	if len(v.Findings) != 2 || v.Findings[0].ID != "CVE-2020-2" || v.Findings[0].Package != "openssl@3.0.1" {
		t.Errorf("findings %+v", v.Findings)
	}
	v = p.Evaluate(verdict.Input{Image: image(t, "ghcr.io/o/app:2"), Namespace: "prod-x", Report: rep(vuln("CVE-1", model.Critical, "2", "", "")), Now: now})
	if v.Reason != "a critical vulnerability with a fix is deployed in production" {
		t.Errorf("message not used: %q", v.Reason)
	}
}

func TestExceptionExpires(t *testing.T) {
	p := load(t)
	in := verdict.Input{Image: image(t, "ghcr.io/o/app:2"), Namespace: "prod-web",
		Report: rep(vuln("CVE-2024-0001", model.Critical, "3.0.2", "", ""))}
	in.Now = time.Date(2027, 1, 31, 23, 59, 0, 0, time.UTC)
	in.ScannedAt = in.Now
	if v := p.Evaluate(in); v.Action != verdict.Allow {
		t.Errorf("on its expiry day the exception holds: %+v", v)
	}
	in.Now = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	if v := p.Evaluate(in); v.Action != verdict.Deny || v.Rule != "fixable-critical" {
		t.Errorf("after its expiry day the exception is gone: %+v", v)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"", "empty policy"},
		{"rules:\n  - name: a\n    action: deny\n    colour: red\n", `line 4: unknown key "colour" in a rule`},
		{"rules:\n  - name: a\n    action: block\n", `line 3: action "block"`},
		{"rules:\n  - action: deny\n", "line 2: a rule needs a name"},
		{"rules:\n  - name: a\n", `line 2: rule "a" needs an action`},
		{"rules:\n  - name: a\n    action: deny\n  - name: a\n    action: warn\n", `line 4: rule "a": already defined on line 2`},
		{"rules:\n  - name: a\n    action: deny\n    when:\n      findings:\n        severity: SEVERE\n", `line 6: severity "SEVERE"`},
		{"rules:\n  - name: a\n    action: deny\n    when:\n      findings:\n        class: [virus]\n", `line 6: class "virus"`},
		{"rules:\n  - name: a\n    action: deny\n    when:\n      findings:\n        cvss: 11\n", "line 6: cvss 11"},
		{"rules:\n  - name: a\n    action: deny\n    when:\n      findings:\n        count: 0\n", "line 6: count 0"},
		{"rules:\n  - name: a\n    action: deny\n    when:\n      image:\n        scan-older-than: soon\n", `line 6: duration "soon"`},
		{"rules:\n  - name: a\n    action: deny\n    when:\n      image:\n        signed: true\n", `line 6: unknown key "signed" in image`},
		{"exceptions:\n  - reason: x\n    expires: 2027-13-01\n", `line 3: date "2027-13-01"`},
		{"exceptions:\n  - reason: x\n", "line 2: an exception needs an expiry date"},
		{"exceptions:\n  - expires: 2027-01-01\n", "line 2: an exception needs a reason"},
		{"exceptions:\n  - rule: nope\n    reason: x\n    expires: 2027-01-01\n", `line 2: exception for rule "nope": no such rule`},
		{"version: 2\n", "line 1: version 2"},
		{"default: maybe\n", `line 1: action "maybe"`},
		{"rules: []\n---\nrules: []\n", "line 2: a policy file holds one YAML document"},
		{"rules:\n  - name: a\n    action: deny\n    match:\n      tags: latest\n", "line 5: cannot unmarshal !!str `latest`"},
		{"- a\n", "the policy: want a mapping"},
	} {
		_, err := verdict.Parse([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	p, err := verdict.Parse([]byte("rules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Default != verdict.Allow || p.Unscanned.Action != verdict.Deny || p.Unscanned.ScanOnDemand || p.Unscanned.Timeout != verdict.DefaultScanTimeout {
		t.Errorf("defaults: %+v", p)
	}
	if v := p.Evaluate(verdict.Input{Image: verdict.Image{Repository: "x"}}); v.Action != verdict.Deny || v.Rule != verdict.RuleUnscanned {
		t.Errorf("an unscanned image is denied by default (fail closed): %+v", v)
	}
}

func TestParseImage(t *testing.T) {
	for ref, want := range map[string]verdict.Image{
		"nginx":                            {Registry: "docker.io", Repository: "library/nginx", Tag: "latest"},
		"localhost:5000/team/app:1.2":      {Registry: "localhost:5000", Repository: "team/app", Tag: "1.2"},
		"ghcr.io/o/app@sha256:" + hex64:    {Registry: "ghcr.io", Repository: "o/app", Digest: "sha256:" + hex64},
		"ghcr.io/o/app:v1@sha256:" + hex64: {Registry: "ghcr.io", Repository: "o/app", Tag: "v1", Digest: "sha256:" + hex64},
	} {
		got, err := verdict.ParseImage(ref)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", ref, got, err, want)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"team/*", "team/app", true},
		{"team/*", "team/a/b", false},
		{"team/**", "team/a/b", true},
		{"v?", "v1", true},
		{"1.*", "1.2.3", true},
		{"a.b", "aXb", false},
	} {
		g, err := verdict.NewGlob(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if g.Match(c.s) != c.want {
			t.Errorf("%s ~ %s: want %v", c.pattern, c.s, c.want)
		}
	}
}
