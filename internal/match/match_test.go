package match

import (
	"context"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// sampleDB holds the bundled real records plus the constructed ones of
// testdata/synthetic.
func sampleDB(t *testing.T) *vulndb.DB {
	t.Helper()
	return importDB(t, sampleDir, syntheticDir)
}

func byID(fs []model.Finding) map[string]model.Finding {
	m := map[string]model.Finding{}
	for _, f := range fs {
		m[f.ID] = f
	}
	return m
}

func TestDistroMatching(t *testing.T) {
	db := sampleDB(t)
	ctx := context.Background()
	debian12 := &model.OS{Family: "debian", Version: "12"}
	debian11 := &model.OS{Family: "debian", Version: "11"}
	cases := []struct {
		name    string
		os      *model.OS
		pkg     model.Package
		wantID  string // "" when nothing must match
		fixed   string
		aliases []string
	}{
		// libc6 is built from glibc: DSA-5514-1 names the source package.
		{"binary from source glibc", debian12, model.Package{Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", Type: model.TypeDeb, Path: "var/lib/dpkg/status", LayerDiffID: "sha256:aa"},
			"CVE-2023-4911", "2.36-9+deb12u3", []string{"DEBIAN-CVE-2023-4911", "DSA-5514-1"}},
		{"glibc fixed version installed", debian12, model.Package{Name: "libc6", Version: "2.36-9+deb12u3", SourceName: "glibc", Type: model.TypeDeb}, "", "", nil},
		{"glibc on Debian 11 uses the Debian:11 fix", debian11, model.Package{Name: "libc6", Version: "2.31-13+deb11u6", SourceName: "glibc", Type: model.TypeDeb},
			"CVE-2023-4911", "2.31-13+deb11u7", []string{"DEBIAN-CVE-2023-4911", "DSA-5514-1"}},
		// libssl3 from openssl; tilde versions order before the release.
		{"tilde below the fix", debian12, model.Package{Name: "libssl3", Version: "3.0.11-1~deb12u1", SourceName: "openssl", Type: model.TypeDeb},
			"CVE-2023-5363", "3.0.11-1~deb12u2", []string{"DSA-5532-1"}},
		{"tilde fix installed", debian12, model.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", SourceName: "openssl", Type: model.TypeDeb}, "", "", nil},
		{"release above the tilde fix", debian12, model.Package{Name: "libssl3", Version: "3.0.11-1", SourceName: "openssl", Type: model.TypeDeb}, "", "", nil},
		// the binary name alone must not match a source-keyed record.
		{"binary name is not the source", debian12, model.Package{Name: "openssl", Version: "3.0.11-1~deb12u1", SourceName: "openssl-other", Type: model.TypeDeb}, "", "", nil},
		// epochs: 1:1.2.11.dfsg-2+deb11u1 < 1:1.2.11.dfsg-2+deb11u2.
		{"epoch below the fix", debian11, model.Package{Name: "zlib1g", Version: "1:1.2.11.dfsg-2+deb11u1", SourceName: "zlib", Type: model.TypeDeb},
			"CVE-2022-37434", "1:1.2.11.dfsg-2+deb11u2", []string{"DEBIAN-CVE-2022-37434", "DSA-5218-1"}},
		{"epoch outranks the upstream version", debian11, model.Package{Name: "zlib1g", Version: "2:1.0-1", SourceName: "zlib", Type: model.TypeDeb}, "", "", nil},
		// DSA-5218-1 is for Debian 11 only.
		{"record for another release", debian12, model.Package{Name: "zlib1g", Version: "1:1.2.11.dfsg-2+deb11u1", SourceName: "zlib", Type: model.TypeDeb}, "", "", nil},
		// Alpine: origin openssl, -r suffixes.
		{"alpine origin", &model.OS{Family: "alpine", Version: "3.18.4"}, model.Package{Name: "libssl3", Version: "3.1.3-r0", SourceName: "openssl", Type: model.TypeAPK},
			"CVE-2023-5363", "3.1.4-r0", []string{"ALPINE-CVE-2023-5363"}},
		{"alpine -r fix installed", &model.OS{Family: "alpine", Version: "3.18.4"}, model.Package{Name: "libcrypto3", Version: "3.1.4-r0", SourceName: "openssl", Type: model.TypeAPK}, "", "", nil},
		{"alpine other branch", &model.OS{Family: "alpine", Version: "3.16.9"}, model.Package{Name: "libssl3", Version: "3.0.11-r0", SourceName: "openssl", Type: model.TypeAPK}, "", "", nil},
		{"alpine before introduced", &model.OS{Family: "alpine", Version: "3.17.5"}, model.Package{Name: "libssl1.1", Version: "1.1.1w-r0", SourceName: "openssl", Type: model.TypeAPK}, "", "", nil},
		{"alpine 3.17 fix", &model.OS{Family: "alpine", Version: "3.17.5"}, model.Package{Name: "libssl3", Version: "3.0.11-r0", SourceName: "openssl", Type: model.TypeAPK},
			"CVE-2023-5363", "3.0.12-r0", []string{"ALPINE-CVE-2023-5363"}},
		{"no OS, no distro match", nil, model.Package{Name: "libc6", Version: "2.36-9+deb12u1", SourceName: "glibc", Type: model.TypeDeb}, "", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, err := Match(ctx, db, c.os, []model.Package{c.pkg})
			if err != nil {
				t.Fatal(err)
			}
			if c.wantID == "" {
				if len(fs) != 0 {
					t.Fatalf("want no finding, got %+v", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("want 1 finding, got %d: %+v", len(fs), fs)
			}
			f := fs[0]
			if f.ID != c.wantID || f.FixedVersion != c.fixed || f.InstalledVersion != c.pkg.Version || f.Class != model.ClassVulnerability {
				t.Errorf("got id %s fixed %q installed %q class %s", f.ID, f.FixedVersion, f.InstalledVersion, f.Class)
			}
			if strings.Join(f.Aliases, ",") != strings.Join(c.aliases, ",") {
				t.Errorf("aliases %v, want %v", f.Aliases, c.aliases)
			}
			if f.Path != c.pkg.Path || f.LayerDiffID != c.pkg.LayerDiffID || f.Package == nil || f.Package.Name != c.pkg.Name {
				t.Errorf("finding does not point at the package: %+v", f)
			}
		})
	}
}

func TestLanguageMatching(t *testing.T) {
	db := sampleDB(t)
	ctx := context.Background()
	cases := []struct {
		name     string
		pkg      model.Package
		wantID   string
		fixed    string
		severity model.Severity
		class    model.Class
	}{
		// GHSA-jf85-cpcp-j695: lodash < 4.17.12; CVSS:3.1 .../C:N/I:H/A:H = 9.1.
		{"npm below fix", model.Package{Name: "lodash", Version: "4.17.11", Type: model.TypeNPM}, "CVE-2019-10744", "4.17.12", model.Critical, model.ClassVulnerability},
		{"npm prerelease of the fix is below it", model.Package{Name: "lodash", Version: "4.17.12-pre", Type: model.TypeNPM}, "CVE-2019-10744", "4.17.12", model.Critical, model.ClassVulnerability},
		{"npm fixed", model.Package{Name: "lodash", Version: "4.17.12", Type: model.TypeNPM}, "", "", "", ""},
		// GHSA-j8r2-6x86-q33q: requests >= 2.3.0, < 2.31.0 (PEP 440 names and versions).
		{"pypi normalized name", model.Package{Name: "Requests", Version: "2.30.0", Type: model.TypePyPI}, "CVE-2023-32681", "2.31.0", model.Medium, model.ClassVulnerability},
		{"pypi release candidate of the fix", model.Package{Name: "requests", Version: "2.31.0rc1", Type: model.TypePyPI}, "CVE-2023-32681", "2.31.0", model.Medium, model.ClassVulnerability},
		{"pypi before introduced", model.Package{Name: "requests", Version: "2.2.1", Type: model.TypePyPI}, "", "", "", ""},
		// GHSA-jfh8-c2jp-5v3q: three ranges; Maven qualifiers order 2.0-beta9 < 2.0 and 2.12.1 < 2.12.2.
		{"maven qualifier", model.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.0-beta9", Type: model.TypeMaven}, "CVE-2021-44228", "2.3.1", model.Critical, model.ClassVulnerability},
		{"maven middle range", model.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.12.1", Type: model.TypeMaven}, "CVE-2021-44228", "2.12.2", model.Critical, model.ClassVulnerability},
		{"maven gap between ranges", model.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.12.4", Type: model.TypeMaven}, "", "", "", ""},
		{"maven fixed", model.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.15.0", Type: model.TypeMaven}, "", "", "", ""},
		// GO-2023-2102 stdlib: < 1.20.10, 1.21.0-0 <= v < 1.21.3.
		// GO-2023-2102 has no CVSS vector; its alias GHSA-4374-p667-p6c8 (in the database for
		// golang.org/x/net, not stdlib) rates the weakness 7.5.
		{"go stdlib", model.Package{Name: "stdlib", Version: "1.21.2", Type: model.TypeGolang}, "CVE-2023-39325", "1.21.3", model.High, model.ClassVulnerability},
		{"go stdlib with go prefix", model.Package{Name: "stdlib", Version: "go1.20.9", Type: model.TypeGolang}, "CVE-2023-39325", "1.20.10", model.High, model.ClassVulnerability},
		{"go stdlib fixed", model.Package{Name: "stdlib", Version: "1.21.3", Type: model.TypeGolang}, "", "", "", ""},
		// GO-2023-2102 and GHSA-4374-p667-p6c8 are aliases: one finding, the GHSA's CVSS (A:H = 7.5).
		{"go module, aliases merged", model.Package{Name: "golang.org/x/net", Version: "v0.16.0", Type: model.TypeGolang}, "CVE-2023-39325", "0.17.0", model.High, model.ClassVulnerability},
		// MAL-2022-9: any version of 0-dns is malicious.
		{"malicious package", model.Package{Name: "0-dns", Version: "1.0.0", Type: model.TypeNPM}, "MAL-2022-9", "", model.Critical, model.ClassMalware},
		// constructed: last_affected is inclusive, limit bounds, GIT ranges ignored, explicit versions.
		{"last_affected inclusive", model.Package{Name: "smallvec", Version: "1.4.2", Type: model.TypeCargo}, "TEST-LAST-AFFECTED-1", "", model.Medium, model.ClassVulnerability},
		{"after last_affected", model.Package{Name: "smallvec", Version: "1.4.3", Type: model.TypeCargo}, "", "", "", ""},
		{"below limit", model.Package{Name: "rack", Version: "1.6.4", Type: model.TypeGem}, "TEST-LAST-AFFECTED-1", "", model.Medium, model.ClassVulnerability},
		{"at limit", model.Package{Name: "rack", Version: "2.0", Type: model.TypeGem}, "", "", "", ""},
		{"explicit versions list", model.Package{Name: "rack", Version: "2.0.0.rc1", Type: model.TypeGem}, "TEST-LAST-AFFECTED-1", "", model.Medium, model.ClassVulnerability},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, err := Match(ctx, db, nil, []model.Package{c.pkg})
			if err != nil {
				t.Fatal(err)
			}
			if c.wantID == "" {
				if len(fs) != 0 {
					t.Fatalf("want no finding, got %+v", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("want 1 finding, got %d: %+v", len(fs), fs)
			}
			f := fs[0]
			if f.ID != c.wantID || f.FixedVersion != c.fixed || f.Severity != c.severity || f.Class != c.class {
				t.Errorf("got id %s fixed %q severity %s class %s, want %s %q %s %s", f.ID, f.FixedVersion, f.Severity, f.Class, c.wantID, c.fixed, c.severity, c.class)
			}
		})
	}
}

// The withdrawn record names lodash at every version: it must never appear.
func TestWithdrawnSkipped(t *testing.T) {
	fs, err := Match(context.Background(), sampleDB(t), nil, []model.Package{{Name: "lodash", Version: "4.17.21", Type: model.TypeNPM}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 {
		t.Fatalf("withdrawn record matched: %+v", fs)
	}
}

func TestSeverityDetails(t *testing.T) {
	fs, err := Match(context.Background(), sampleDB(t), nil, []model.Package{{Name: "lodash", Version: "4.17.11", Type: model.TypeNPM}})
	if err != nil || len(fs) != 1 {
		t.Fatalf("%v %+v", err, fs)
	}
	f := fs[0]
	// The record's own vector and the score its CVSS 3.1 base metrics give.
	if f.Extra["cvss_vector"] != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H" || f.Extra["cvss_score"] != "9.1" {
		t.Errorf("extra %v", f.Extra)
	}
	if f.Title != "Prototype Pollution in lodash" || len(f.Aliases) != 1 || f.Aliases[0] != "GHSA-jf85-cpcp-j695" {
		t.Errorf("title %q aliases %v", f.Title, f.Aliases)
	}
}

func TestOwnRatings(t *testing.T) {
	for _, c := range []struct {
		word string
		want model.Severity
	}{{"MODERATE", model.Medium}, {"negligible", model.Low}, {"unimportant", model.Low}, {"high**", model.High}, {"CRITICAL", model.Critical}} {
		if got, ok := ratingWord(c.word); !ok || got != c.want {
			t.Errorf("%s: %s", c.word, got)
		}
	}
	if _, ok := ratingWord("not yet assigned"); ok {
		t.Error("unassigned urgency rated")
	}
	for _, c := range []struct {
		v    string
		want float64
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3},
	} {
		if s, ok := ScoreVector(c.v); !ok || s != c.want {
			t.Errorf("%s: %v %v", c.v, s, ok)
		}
	}
}

func TestEcosystemMapping(t *testing.T) {
	for _, c := range []struct {
		os   model.OS
		typ  string
		eco  string
		want bool
	}{
		{model.OS{Family: "ubuntu", Version: "22.04"}, model.TypeDeb, "Ubuntu:22.04:LTS", true},
		{model.OS{Family: "ubuntu", Version: "22.04"}, model.TypeDeb, "Ubuntu:Pro:22.04:LTS", false},
		{model.OS{Family: "rocky", Version: "9.3"}, model.TypeRPM, "Rocky Linux:9", true},
		{model.OS{Family: "almalinux", Version: "8.9"}, model.TypeRPM, "AlmaLinux:8", true},
		{model.OS{Family: "rhel", Version: "9.2"}, model.TypeRPM, "Red Hat:enterprise_linux:9::appstream", true},
		{model.OS{Family: "sles", Version: "15.5"}, model.TypeRPM, "SUSE:Linux Enterprise Server 15 SP5", true},
		{model.OS{Family: "sles", Version: "15.5"}, model.TypeRPM, "SUSE:Linux Enterprise Server 15 SP4", false},
		{model.OS{Family: "opensuse-leap", Version: "15.5"}, model.TypeRPM, "openSUSE:Leap 15.5", true},
		{model.OS{Family: "wolfi", Version: "20230201"}, model.TypeAPK, "Wolfi", true},
		{model.OS{Family: "debian", Version: "12"}, model.TypeRPM, "Debian:12", false},
	} {
		tg, ok := targetFor(&model.Package{Name: "x", Version: "1", Type: c.typ}, &c.os)
		got := ok && vulndb.Base(c.eco) == tg.base && tg.accept(c.eco)
		if got != c.want {
			t.Errorf("%v %s %s: %v", c.os, c.typ, c.eco, got)
		}
	}
}
