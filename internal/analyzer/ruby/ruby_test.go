package ruby

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/testimage"
)

// gemList parses `gem list --local` lines such as "json (default: 2.6.1)"
// and "minitest (5.15.0, 5.14.0)".
func gemList(t *testing.T, out []byte) []string {
	t.Helper()
	line := regexp.MustCompile(`^(\S+) \((.*)\)$`)
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("unexpected gem list line %q", l)
		}
		for _, v := range strings.Split(m[2], ", ") {
			ids = append(ids, m[1]+"@"+strings.TrimPrefix(v, "default: "))
		}
	}
	sort.Strings(ids)
	return ids
}

// TestDebianGems scans a Debian root filesystem with Ruby and ruby-rack
// installed; the expected gems are what that system's own RubyGems lists.
func TestDebianGems(t *testing.T) {
	root := testimage.Debootstrap(t, "ruby", "ruby-rack")
	out, err := exec.Command("chroot", root, "gem", "list", "--local").Output()
	if err != nil {
		t.Fatalf("gem list in %s: %v", root, err)
	}
	want := gemList(t, out)
	pkgs, warns := testimage.Packages(t, New(), testimage.DirLayer(t, root))
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	got := testimage.IDs(pkgs)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("gems differ from gem list\ngot  %v\nwant %v", got, want)
	}
	for _, p := range pkgs {
		if p.Name == "rack" {
			if p.PURL != "pkg:gem/rack@"+p.Version || p.Path != "usr/share/rubygems-integration/all/specifications/rack-"+p.Version+".gemspec" || strings.Join(p.Licenses, ",") != "MIT" {
				t.Errorf("rack: %+v", p)
			}
		}
		if p.Name == "json" && p.Metadata["gem_default"] != "true" {
			t.Errorf("json is a default gem: %+v", p)
		}
	}
}

// TestGemfileLockBundler locks installed gems with Bundler (offline) and
// checks the lockfile's gems against the installed specifications.
func TestGemfileLockBundler(t *testing.T) {
	testimage.RequireTool(t, "ruby")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Gemfile"), []byte("source \"https://rubygems.org\"\ngem \"rexml\"\ngem \"rake\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ruby", "-e", `load Gem.bin_path("bundler", "bundle")`, "lock", "--local")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bundle lock: %v\n%s", err, out)
	}
	var want []string
	for _, name := range []string{"rake", "rexml"} {
		out, err := exec.Command("ruby", "-e", `puts Gem::Specification.find_by_name(ARGV[0]).version`, name).Output()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, name+"@"+strings.TrimSpace(string(out)))
	}
	lock, err := os.ReadFile(filepath.Join(dir, "Gemfile.lock"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t, testimage.File("app/Gemfile.lock", string(lock))))
	if got := testimage.IDs(pkgs); len(warns) > 0 || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v (warnings %v), want %v", got, warns, want)
	}
}

// TestLockAndInstalled checks that a gem in a lockfile and installed is one
// package with both locations, and that a gem whose specification a later
// layer deletes leaves the inventory. testdata holds Debian's installed
// rack specification and a Bundler lockfile of rack and rexml.
func TestLockAndInstalled(t *testing.T) {
	spec, err := os.ReadFile("testdata/rack-2.2.22.gemspec")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile("testdata/Gemfile.lock")
	if err != nil {
		t.Fatal(err)
	}
	const specPath = "var/lib/gems/3.1.0/specifications/rack-2.2.22.gemspec"
	base := testimage.Layer(t, testimage.File(specPath, string(spec)), testimage.File("srv/app/Gemfile.lock", string(lock)))
	pkgs, _ := testimage.Packages(t, New(), base)
	if got := testimage.IDs(pkgs); strings.Join(got, " ") != "rack@2.2.22 rexml@3.2.5" {
		t.Fatalf("got %v", got)
	}
	for _, p := range pkgs {
		if p.Name == "rack" && (p.Path != specPath || strings.Join(p.Locations, ",") != "srv/app/Gemfile.lock") {
			t.Errorf("rack locations: %q %q", p.Path, p.Locations)
		}
	}
	pkgs, _ = testimage.Packages(t, New(), base, testimage.Layer(t, testimage.Whiteout("srv/app/Gemfile.lock")))
	if got := testimage.IDs(pkgs); strings.Join(got, " ") != "rack@2.2.22" || len(pkgs[0].Locations) != 0 {
		t.Errorf("after deleting the lockfile: %+v", pkgs)
	}
}

func TestLockfilePaths(t *testing.T) {
	for p, want := range map[string]bool{
		"srv/app/Gemfile.lock":  true,
		"srv/gems/Gemfile.lock": true,
		"Gemfile.lock":          true,
		"app/gems.locked":       true,
		"usr/lib/ruby/gems/3.1.0/gems/typeprof-0.21.2/Gemfile.lock":      false,
		"app/vendor/bundle/ruby/3.1.0/gems/rbs-2.1.0/steep/Gemfile.lock": false,
		"app/Gemfile": false,
	} {
		if isLockfile(p) != want {
			t.Errorf("isLockfile(%q) = %v", p, !want)
		}
	}
}

func TestGemspecForms(t *testing.T) {
	for _, c := range []struct {
		name, text, file, want string
	}{
		{"freeze", "Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.4\"\nend\n", "x.gemspec", "rack@2.2.4"},
		{"spec var", "Gem::Specification.new do |spec|\n  spec.name    = 'nokogiri'\n  spec.version = Gem::Version.new('1.13.10')\nend\n", "x.gemspec", "nokogiri@1.13.10"},
		{"percent q", "Gem::Specification.new do |s|\n  s.name = %q{json}\n  s.version = %q<2.6.1>.freeze\nend\n", "x.gemspec", "json@2.6.1"},
		{"braces", "Gem::Specification.new { |g| g.name = \"a\"; g.version = \"1.0\" }\n", "x.gemspec", ""},
		{"constant version, stub", "# stub: thor 1.2.1 ruby lib\nGem::Specification.new do |s|\n  s.name = \"thor\"\n  s.version = Thor::VERSION\nend\n", "y.gemspec", "thor@1.2.1"},
		{"constant version, file name", "Gem::Specification.new do |s|\n  s.name = \"ffi\"\n  s.version = FFI::VERSION\nend\n", "ffi-1.15.5-x86_64-linux.gemspec", "ffi@1.15.5"},
		{"interpolation", "Gem::Specification.new do |s|\n  s.name = \"x#{1}\"\n  s.version = \"1\"\nend\n", "z.gemspec", ""},
		{"comparison is no assignment", "Gem::Specification.new do |s|\n  s.name == \"no\"\n  s.name = \"yes\"\n  s.version = \"3\"\nend\n", "z.gemspec", "yes@3"},
		{"not a gemspec", "puts 1\n", "z.gemspec", ""},
	} {
		g, err := ParseGemspec([]byte(c.text), c.file)
		got := ""
		if err == nil {
			got = g.Name + "@" + g.Version
		}
		if got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	huge := testimage.File("usr/lib/ruby/gems/3.1.0/specifications/big-1.0.gemspec", strings.Repeat("#", MaxFileBytes+1))
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t,
		huge,
		testimage.File("app/Gemfile.lock", "GEM\n  specs:\n    ok (1.0)\n    bad line\n    evil ($(rm -rf /))\n"),
		testimage.File("var/lib/gems/3.1.0/specifications/x.gemspec", "\x00\xff garbage"),
	))
	if got := testimage.IDs(pkgs); strings.Join(got, " ") != "ok@1.0" {
		t.Errorf("got %v", got)
	}
	if len(warns) != 3 {
		t.Fatalf("want 3 warnings, got %q", warns)
	}
	for _, w := range warns {
		if !strings.Contains(w, "layer sha256:") || !(strings.Contains(w, "big-1.0.gemspec") || strings.Contains(w, "Gemfile.lock") || strings.Contains(w, "x.gemspec")) {
			t.Errorf("warning without layer or path: %q", w)
		}
	}
}

func FuzzGemspec(f *testing.F) {
	f.Add([]byte("Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.4\"\n  s.licenses = [\"MIT\".freeze, %q<Ruby>]\nend\n"), "rack-2.2.4.gemspec")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		g, err := ParseGemspec(b, name)
		if err == nil && (!validName(g.Name) || !validVersion(g.Version)) {
			t.Fatalf("invalid gem accepted: %+v", g)
		}
		if len(g.Licenses) > 50 {
			t.Fatal("too many licenses")
		}
	})
}

func FuzzGemfileLock(f *testing.F) {
	f.Add([]byte("GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (2.2.22)\n    nokogiri (1.13.10-x86_64-linux)\n      racc (~> 1.4)\n\nPLATFORMS\n  x86_64-linux\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gems, _ := ParseGemfileLock(b)
		for _, g := range gems {
			if !validName(g.Name) || !validVersion(g.Version) || bytes.Count(b, []byte(g.Name)) == 0 {
				t.Fatalf("invalid gem accepted: %+v", g)
			}
		}
	})
}
