package purl

import "testing"

func TestLanguagePURLsB(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Gem("rack", "2.2.22"), "pkg:gem/rack@2.2.22"},
		{Cargo("serde", "1.0.136"), "pkg:cargo/serde@1.0.136"},
		{Cargo("semver", "1.0.0+build.1"), "pkg:cargo/semver@1.0.0%2Bbuild.1"},
		{Composer("Symfony/Console", "v5.4.0"), "pkg:composer/symfony/console@v5.4.0"},
		{Composer("laravel/framework", "9.52.16"), "pkg:composer/laravel/framework@9.52.16"},
		{NuGet("Newtonsoft.Json", "13.0.1"), "pkg:nuget/Newtonsoft.Json@13.0.1"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
