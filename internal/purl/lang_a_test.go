package purl

import "testing"

func TestLanguagePURLs(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Golang("golang.org/x/net", "v0.0.0-20220722155237-a158d28d115b"), "pkg:golang/golang.org/x/net@v0.0.0-20220722155237-a158d28d115b"},
		{Golang("stdlib", "1.21.3"), "pkg:golang/stdlib@1.21.3"},
		{Golang("example.com/cmd", ""), "pkg:golang/example.com/cmd"},
		{NPM("@scope/name", "1.2.3"), "pkg:npm/%40scope/name@1.2.3"},
		{NPM("lodash", "4.17.21"), "pkg:npm/lodash@4.17.21"},
		{PyPI("Zope.Interface", "5.4.0"), "pkg:pypi/zope-interface@5.4.0"},
		{PyPI("requests", "2.28.1"), "pkg:pypi/requests@2.28.1"},
		{Maven("org.apache.logging.log4j", "log4j-core", "2.14.1"), "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	for in, want := range map[string]string{"Friendly-Bard": "friendly-bard", "FRIENDLY._-bard": "friendly-bard", "a__b": "a-b"} {
		if got := NormalizePyPI(in); got != want {
			t.Errorf("NormalizePyPI(%q) = %q, want %q", in, got, want)
		}
	}
}
