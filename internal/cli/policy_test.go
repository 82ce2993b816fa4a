package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/verdict"
	"github.com/customs-scanner/customs/internal/vulndb"
)

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImagePolicy: --policy puts the verdict and its rule in the report
// and decides the exit code: a deny fails (1, or --exit-code), an allow
// passes though findings remain, an allow on missing data does not, a
// broken policy is an error before any scan.
func TestImagePolicy(t *testing.T) {
	dir := debianLayout(t)
	deny := writePolicy(t, `name: ci
rules:
  - name: glibc
    when:
      findings:
        class: [vulnerability]
        ids: [CVE-2023-4911]
    action: deny
`)
	allow := writePolicy(t, "default: allow\n")
	scan := []string{"image", dir, "--db-dir", vulndb.SampleName, "--no-cache", "--scanners", "vuln"}

	code, rep, stderr := jsonReport(t, append(scan, "--policy", deny)...)
	if code != 1 || rep == nil || rep.Verdict == nil {
		t.Fatalf("deny: exit %d, report %v, %s", code, rep != nil, stderr)
	}
	v := rep.Verdict
	if v.Action != verdict.Deny || v.Rule != "glibc" || len(v.Findings) != 1 || v.Findings[0].ID != "CVE-2023-4911" || !strings.HasPrefix(v.Policy, "ci@sha256:") {
		t.Errorf("verdict %+v", v)
	}
	if code, _, _ := jsonReport(t, append(scan, "--policy", deny, "--exit-code", "4")...); code != 4 {
		t.Errorf("deny with --exit-code 4: exit %d", code)
	}
	_, out, _ := runMain(t, append(scan, "--policy", deny, "-q")...)
	table := string(out)
	if !strings.Contains(table, "Policy: DENY by rule glibc") || !strings.Contains(table, "CVE-2023-4911 libc6@2.36-9+deb12u1") {
		t.Errorf("table:\n%s", table)
	}

	code, rep, stderr = jsonReport(t, append(scan, "--policy", allow, "--exit-code", "1")...)
	if code != 0 || rep.Verdict.Action != verdict.Allow || rep.Verdict.Rule != verdict.RuleDefault || len(rep.Findings) == 0 {
		t.Errorf("allow: exit %d, %s, verdict %+v", code, stderr, rep.Verdict)
	}
	if code, _, stderr := runMain(t, "image", dir, "--db-dir", t.TempDir(), "--no-cache", "--policy", allow, "-q"); code != ExitError || !strings.Contains(stderr, "no vulnerability database") {
		t.Errorf("allow without data: exit %d, %s", code, stderr)
	}
	broken := writePolicy(t, "rules:\n  - name: a\n    action: deny\n    when:\n      findings:\n        severity: SEVERE\n")
	if code, _, stderr := runMain(t, append(scan, "--policy", broken)...); code != ExitError || !strings.Contains(stderr, "line 6: severity \"SEVERE\"") {
		t.Errorf("broken policy: exit %d, %s", code, stderr)
	}
}
