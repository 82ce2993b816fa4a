package report

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidExpression(t *testing.T) {
	for s, want := range map[string]bool{
		"MIT":                                  true,
		"GPL-2.0-or-later":                     true,
		"GPL-2.0+":                             true,
		"MIT OR Apache-2.0":                    true,
		"(MIT OR Apache-2.0) AND BSD-3-Clause": true,
		"GPL-2.0-only WITH Classpath-exception-2.0": true,
		"LicenseRef-custom":                         true,
		"DocumentRef-other:LicenseRef-custom":       true,
		"((MIT))":                                   true,
		"":                                          false,
		"Apache 2.0":                                false,
		"Artistic or GPL-1+":                        false,
		"MIT OR":                                    false,
		"(MIT":                                      false,
		"MIT)":                                      false,
		"AND":                                       false,
		"MIT WITH":                                  false,
		"MIT WITH (X)":                              false,
		"other:LicenseRef-x":                        false,
		"GPL v2":                                    false,
		"BSD_3":                                     false,
		strings.Repeat("(", 20) + "MIT" + strings.Repeat(")", 20): false,
		strings.Repeat("MIT AND ", 100) + "MIT":                   false,
	} {
		if got := validExpression(s); got != want {
			t.Errorf("validExpression(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestLicenseRef(t *testing.T) {
	a, b := licenseRef("Apache 2.0"), licenseRef("Apache:2.0")
	if !strings.HasPrefix(a, "LicenseRef-Apache-2.0-") || a == b {
		t.Errorf("licenseRef: %q %q", a, b)
	}
	if got := licenseRef("©"); !regexp.MustCompile(`^LicenseRef-[0-9a-f]{8}$`).MatchString(got) {
		t.Errorf("licenseRef(©) = %q", got)
	}
}

var licenseRefPattern = regexp.MustCompile(`^LicenseRef-[A-Za-z0-9.-]+$`)

// FuzzLicenseExpression feeds database license strings to the expression
// check and the LicenseRef naming: they must not panic, accepted
// expressions must survive joining, and every LicenseRef must be a valid
// SPDX identifier.
func FuzzLicenseExpression(f *testing.F) {
	for _, s := range []string{"MIT", "GPL-2.0+ OR (BSD-3-Clause AND MIT)", "Artistic or GPL-1+", "(", "LicenseRef-a WITH b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := validExpression(s)
		if len(s) > maxLicenseLen && ok {
			t.Fatal("accepted an over-long expression")
		}
		expr, joined := licenseExpression([]string{s, "MIT"})
		if joined && (!ok || !validExpression(expr)) || ok && !joined && len(s) < maxLicenseLen/2 && !strings.Contains(s, "(") {
			t.Fatalf("licenseExpression(%q, MIT) = %q, %v; valid alone: %v", s, expr, joined, ok)
		}
		if ref := licenseRef(s); !licenseRefPattern.MatchString(ref) || !validExpression(ref) {
			t.Fatalf("licenseRef(%q) = %q", s, ref)
		}
	})
}
