package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// writeLayout writes img as an OCI layout and returns its directory.
func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// debianLayout is a Debian 12 image whose dpkg database lists glibc's
// libc6 at the version the sample database's CVE-2023-4911 affects.
func debianLayout(t *testing.T) string {
	t.Helper()
	return writeLayout(t, testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")),
		testimage.Layer(t, testimage.File("var/lib/dpkg/status",
			"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\nArchitecture: amd64\n\n"))))
}

// jsonReport runs customs with args plus a JSON report file and returns
// the exit code, the report (nil when none was written) and stderr.
func jsonReport(t *testing.T, args ...string) (int, *report.Report, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	code, _, stderr := runMain(t, append(args, "-f", "json", "-o", out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		return code, nil, stderr
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	return code, &rep, stderr
}

// TestGateNoDatabase: with no vulnerability database, a CI gate exits 2
// and says what is missing, even quiet; the report says so too. Only an
// explicit choice lets it pass.
func TestGateNoDatabase(t *testing.T) {
	dir := debianLayout(t)
	noDB := t.TempDir()
	gate := []string{"image", dir, "--db-dir", noDB, "--no-cache", "--severity", "CRITICAL", "--exit-code", "1"}

	code, _, stderr := runMain(t, append(gate, "-q")...)
	if code != ExitError || !strings.Contains(stderr, "no vulnerability database in "+noDB) || !strings.Contains(stderr, "--allow-missing-data") {
		t.Fatalf("quiet gate without a database: exit %d, stderr %q", code, stderr)
	}
	code, rep, _ := jsonReport(t, gate...)
	if code != ExitError || rep == nil || rep.Coverage == nil || rep.Coverage.Vulnerabilities != report.CoverageNoData || len(rep.Coverage.Missing) != 1 {
		t.Fatalf("exit %d, coverage %+v", code, rep)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n")+strings.Join(rep.Coverage.Missing, "\n"), "no vulnerability database") {
		t.Errorf("report does not say the database is missing: %+v", rep.Coverage)
	}
	// The table says it in one line.
	_, table, _ := runMain(t, "image", dir, "--db-dir", noDB, "--no-cache", "-q")
	if !strings.Contains(string(table), "Vulnerability data: NONE; MISSING: no vulnerability database") {
		t.Errorf("table:\n%s", table)
	}
	if code, _, stderr := runMain(t, append(gate, "-q", "--allow-missing-data")...); code != ExitOK {
		t.Errorf("--allow-missing-data: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runMain(t, append(gate, "-q", "--scanners", "secret,config")...); code != ExitOK {
		t.Errorf("--scanners without vuln: exit %d: %s", code, stderr)
	}
	// With the data, the same gate fails on the finding, not on the data.
	code, rep, stderr = jsonReport(t, "image", dir, "--db-dir", vulndb.SampleName, "--no-cache", "--severity", "HIGH,CRITICAL", "--exit-code", "3", "--scanners", "vuln")
	if code != 3 || rep == nil || rep.Coverage.Vulnerabilities != report.CoverageMatched || len(rep.Coverage.Missing) != 0 {
		t.Fatalf("gate with the sample database: exit %d, %s, coverage %+v", code, stderr, rep.Coverage)
	}
	// The Debian advisory carries no CVSS of its own: the severity comes from the
	// CVE record of the same weakness, and the report says so.
	found := false
	for _, f := range rep.Findings {
		if f.ID == "CVE-2023-4911" {
			found = true
			if f.Severity != "HIGH" || !strings.HasPrefix(f.Extra["severity_source"], "alias:CVE-2023-4911/") {
				t.Errorf("CVE-2023-4911: severity %s from %q", f.Severity, f.Extra["severity_source"])
			}
		}
	}
	if !found {
		t.Errorf("CVE-2023-4911 not found: %+v", rep.Findings)
	}
}

// TestGateEmptyDatabase: a database with no records is no data.
func TestGateEmptyDatabase(t *testing.T) {
	dir := debianLayout(t)
	db := t.TempDir()
	garbage := filepath.Join(t.TempDir(), "garbage.tar")
	if err := os.WriteFile(garbage, []byte("this is not an OSV export\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runMain(t, "db", "import", "--db-dir", db, garbage); code != ExitError || stderr == "" {
		t.Fatalf("importing garbage: exit %d, %q", code, stderr)
	}
	code, _, stderr := runMain(t, "image", dir, "--db-dir", db, "--no-cache", "-q", "--exit-code", "1")
	if code != ExitError || !strings.Contains(stderr, "vulnerability data missing") {
		t.Errorf("gate after a garbage import: exit %d, %q", code, stderr)
	}
}

// TestGateUnknownOS: an Amazon Linux image's rpm packages have no
// advisory source; the gate fails naming the OS instead of passing
// because nothing matched.
func TestGateUnknownOS(t *testing.T) {
	testimage.RequireTool(t, "rpmbuild")
	top := t.TempDir()
	spec := filepath.Join(top, "openssl-libs.spec")
	body := "Name: openssl-libs\nVersion: 3.0.8\nRelease: 1.amzn2023.0.3\nSummary: test\nLicense: ASL 2.0\nBuildArch: noarch\n%description\ntest\n%files\n"
	if err := os.WriteFile(spec, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("rpmbuild", "--define", "_topdir "+top, "-bb", spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	dbpath := filepath.Join(t.TempDir(), "var/lib/rpm")
	if out, err := exec.Command("rpm", "--initdb", "--dbpath", dbpath).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	rpmFile := filepath.Join(top, "RPMS", "noarch", "openssl-libs-3.0.8-1.amzn2023.0.3.noarch.rpm")
	if out, err := exec.Command("rpm", "--dbpath", dbpath, "--justdb", "--nodeps", "-i", rpmFile).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	sqlite, err := os.ReadFile(filepath.Join(dbpath, "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeLayout(t, testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\nPRETTY_NAME=\"Amazon Linux 2023\"\n"),
			testimage.File("var/lib/rpm/rpmdb.sqlite", string(sqlite)))))

	code, rep, stderr := jsonReport(t, "image", dir, "--db-dir", vulndb.SampleName, "--no-cache", "--exit-code", "1", "--severity", "CRITICAL")
	if code != ExitError || !strings.Contains(stderr, "amzn") {
		t.Fatalf("gate on Amazon Linux: exit %d, %q", code, stderr)
	}
	if rep == nil || len(rep.Packages) != 1 {
		t.Fatalf("report %+v", rep)
	}
	var row string
	for _, e := range rep.Coverage.Ecosystems {
		if !e.Usable() {
			row = e.Ecosystem + ":" + e.Status
		}
	}
	if !strings.Contains(row, "amzn") || row == "" {
		t.Errorf("coverage %+v", rep.Coverage.Ecosystems)
	}
}

// TestFlagsValidatedFirst: a wrong setting is named before any image is
// opened (the image here does not exist, and is never looked for).
func TestFlagsValidatedFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-image")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--severity", "SEVERE"}, "--severity"},
		{[]string{"--timeout", "-1s"}, "--timeout"},
		{[]string{"--max-file-size", "-5"}, "--max-file-size"},
		{[]string{"--max-entries", "-1"}, "--max-entries"},
		{[]string{"--output", filepath.Join(missing, "dir", "report.json")}, "--output"},
		{[]string{"--password-guessing", "hard"}, "--password-guessing"},
		{[]string{"--scanners", "virus"}, "--scanners"},
		{[]string{"--format", "xml"}, "--format"},
	} {
		code, _, stderr := runMain(t, append([]string{"image", missing, "--no-cache"}, c.args...)...)
		if code != ExitError || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "no-such-image:") {
			t.Errorf("%v: exit %d, %q", c.args, code, stderr)
		}
	}
	code, _, stderr := runMain(t, "registry", "scan", "127.0.0.1:1", "--severity", "SEVERE")
	if code != ExitError || !strings.Contains(stderr, "--severity") {
		t.Errorf("registry scan --severity SEVERE: exit %d, %q", code, stderr)
	}
}
