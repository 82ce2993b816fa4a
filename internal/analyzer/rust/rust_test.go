package rust

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/testimage"
)

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// metadata is the part of `cargo metadata` output the test uses.
type metadata struct {
	Packages []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"packages"`
	Resolve struct {
		Root  string `json:"root"`
		Nodes []struct {
			ID   string `json:"id"`
			Deps []struct {
				Pkg      string `json:"pkg"`
				DepKinds []struct {
					Kind *string `json:"kind"`
				} `json:"dep_kinds"`
			} `json:"deps"`
		} `json:"nodes"`
	} `json:"resolve"`
}

// auditableJSON writes the dependency list of a build as cargo-auditable's
// format specifies it (packages sorted by name, "source", "kind" "build"
// for packages reached only through build dependencies, "root" for the
// binary's crate, dependencies as indices), from cargo's own metadata.
func auditableJSON(t *testing.T, m metadata) []byte {
	t.Helper()
	type pkg struct {
		Name         string `json:"name"`
		Version      string `json:"version"`
		Source       string `json:"source"`
		Kind         string `json:"kind,omitempty"`
		Dependencies []int  `json:"dependencies,omitempty"`
		Root         bool   `json:"root,omitempty"`
	}
	sort.Slice(m.Packages, func(a, b int) bool { return m.Packages[a].Name < m.Packages[b].Name })
	index := map[string]int{}
	for i, p := range m.Packages {
		index[p.ID] = i
	}
	runtime := map[string]bool{m.Resolve.Root: true}
	deps := map[string][]int{}
	for changed := true; changed; {
		changed = false
		for _, n := range m.Resolve.Nodes {
			if !runtime[n.ID] {
				continue
			}
			for _, d := range n.Deps {
				for _, k := range d.DepKinds {
					if k.Kind == nil && !runtime[d.Pkg] {
						runtime[d.Pkg], changed = true, true
					}
				}
			}
		}
	}
	for _, n := range m.Resolve.Nodes {
		for _, d := range n.Deps {
			deps[n.ID] = append(deps[n.ID], index[d.Pkg])
		}
	}
	var out struct {
		Packages []pkg `json:"packages"`
	}
	for _, p := range m.Packages {
		q := pkg{Name: p.Name, Version: p.Version, Source: "local", Dependencies: deps[p.ID], Root: p.ID == m.Resolve.Root}
		if !runtime[p.ID] {
			q.Kind = "build"
		}
		out.Packages = append(out.Packages, q)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCargoBuild builds a real workspace offline with cargo (path
// dependencies, one of them a build dependency), embeds its dependency list
// in the executable as cargo-auditable does (a zlib-compressed .dep-v0 ELF
// section, added with objcopy: cargo-auditable itself cannot be installed
// here), and checks both Cargo.lock and the executable against cargo's own
// metadata.
func TestCargoBuild(t *testing.T) {
	testimage.RequireTool(t, "cargo")
	testimage.RequireTool(t, "objcopy")
	dir := write(t, map[string]string{
		"app/Cargo.toml":     "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\nhelper = { path = \"../helper\" }\n",
		"app/src/main.rs":    "fn main() { println!(\"{}\", helper::f()); }\n",
		"helper/Cargo.toml":  "[package]\nname = \"helper\"\nversion = \"0.3.1\"\nedition = \"2021\"\n[dependencies]\nleaf = { path = \"../leaf\" }\n[build-dependencies]\ncodegen = { path = \"../codegen\" }\n",
		"helper/build.rs":    "fn main() { let _ = codegen::name(); }\n",
		"helper/src/lib.rs":  "pub fn f() -> u32 { leaf::g() + 1 }\n",
		"leaf/Cargo.toml":    "[package]\nname = \"leaf\"\nversion = \"1.2.0-rc.1\"\nedition = \"2021\"\n",
		"leaf/src/lib.rs":    "pub fn g() -> u32 { 41 }\n",
		"codegen/Cargo.toml": "[package]\nname = \"codegen\"\nversion = \"0.9.0\"\nedition = \"2021\"\n",
		"codegen/src/lib.rs": "pub fn name() -> &'static str { \"codegen\" }\n",
	})
	app := filepath.Join(dir, "app")
	run := func(name string, args ...string) []byte {
		cmd := exec.Command(name, args...)
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+filepath.Join(dir, "target"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
		}
		return out
	}
	run("cargo", "build", "--offline", "--quiet")
	var m metadata
	if err := json.Unmarshal(run("cargo", "metadata", "--offline", "--format-version", "1"), &m); err != nil {
		t.Fatal(err)
	}
	var all, runtimeWant []string
	for _, p := range m.Packages {
		all = append(all, p.Name+"@"+p.Version)
		if p.Name != "codegen" {
			runtimeWant = append(runtimeWant, p.Name+"@"+p.Version)
		}
	}
	sort.Strings(all)
	sort.Strings(runtimeWant)

	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(auditableJSON(t, m))
	zw.Close()
	depFile := filepath.Join(dir, "dep-v0")
	if err := os.WriteFile(depFile, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "app-auditable")
	run("objcopy", "--add-section", ".dep-v0="+depFile, filepath.Join(dir, "target/debug/app"), bin)
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(app, "Cargo.lock"))
	if err != nil {
		t.Fatal(err)
	}

	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t, testimage.Exec("usr/local/bin/app", exe)))
	if got := testimage.IDs(pkgs); len(warns) > 0 || strings.Join(got, " ") != strings.Join(runtimeWant, " ") {
		t.Errorf("executable: got %v (warnings %v), want %v", got, warns, runtimeWant)
	}
	for _, p := range pkgs {
		if p.Name == "leaf" && (p.PURL != "pkg:cargo/leaf@1.2.0-rc.1" || p.Metadata["cargo_source"] != "local") {
			t.Errorf("leaf: %+v", p)
		}
	}

	// The lockfile and the executable in one image: one package per crate,
	// with both locations where both hold it.
	pkgs, warns = testimage.Packages(t, New(), testimage.Layer(t, testimage.Exec("usr/local/bin/app", exe), testimage.File("src/app/Cargo.lock", string(lock))))
	if got := testimage.IDs(pkgs); len(warns) > 0 || strings.Join(got, " ") != strings.Join(all, " ") {
		t.Errorf("executable and lockfile: got %v (warnings %v), want %v", got, warns, all)
	}
	for _, p := range pkgs {
		locs := append([]string{p.Path}, p.Locations...)
		sort.Strings(locs)
		want := "src/app/Cargo.lock usr/local/bin/app"
		if p.Name == "codegen" {
			want = "src/app/Cargo.lock"
		}
		if strings.Join(locs, " ") != want {
			t.Errorf("%s locations %v, want %s", p.Name, locs, want)
		}
	}

	// The same executable without the section holds no crates we can read.
	plain, err := os.ReadFile(filepath.Join(dir, "target/debug/app"))
	if err != nil {
		t.Fatal(err)
	}
	if pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t, testimage.Exec("usr/local/bin/app", plain))); len(pkgs)+len(warns) != 0 {
		t.Errorf("plain executable: %v %v", pkgs, warns)
	}
	// Deleting the executable in a later layer removes its crates.
	if pkgs, _ := testimage.Packages(t, New(), testimage.Layer(t, testimage.Exec("usr/local/bin/app", exe)), testimage.Layer(t, testimage.Whiteout("usr/local/bin/app"))); len(pkgs) != 0 {
		t.Errorf("deleted executable still reported: %v", testimage.IDs(pkgs))
	}
}

func TestCargoLockSources(t *testing.T) {
	lock := `version = 3

[[package]]
name = "serde"
version = "1.0.136"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "ce31e24b01e1e524df96f1c2fdd054405f8d7376249a5110886fb4b658484789"

[[package]]
name = "mine"
version = "0.1.0"
`
	crates, err := ParseCargoLock([]byte(lock))
	if err != nil {
		t.Fatal(err)
	}
	want := []Crate{{"serde", "1.0.136", "registry+https://github.com/rust-lang/crates.io-index"}, {"mine", "0.1.0", "local"}}
	if len(crates) != 2 || crates[0] != want[0] || crates[1] != want[1] {
		t.Errorf("got %+v", crates)
	}
}

func TestBadInput(t *testing.T) {
	bomb := func() []byte {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write([]byte(`{"packages":[`))
		zw.Write(make([]byte, MaxInflatedBytes+10))
		zw.Close()
		return z.Bytes()
	}()
	if _, err := ParseCargoLock([]byte("[[package]\nname = ")); err == nil {
		t.Error("malformed TOML accepted")
	}
	pkgs, warns := testimage.Packages(t, New(), testimage.Layer(t,
		testimage.File("a/Cargo.lock", "[[package]\nname = "),
		testimage.File("b/Cargo.lock", "[[package]]\nname = \"ok\"\nversion = \"1.0.0\"\n[[package]]\nname = \"$(evil)\"\nversion = \"1\"\n"),
		testimage.File("c/Cargo.lock", strings.Repeat(" ", MaxLockBytes+1)),
	))
	if got := testimage.IDs(pkgs); strings.Join(got, " ") != "ok@1.0.0" || len(warns) != 3 {
		t.Errorf("got %v, warnings %q", got, warns)
	}
	for _, w := range warns {
		if !strings.HasPrefix(w, "layer sha256:") || !strings.Contains(w, "Cargo.lock") {
			t.Errorf("warning without layer or path: %q", w)
		}
	}
	if _, err := ParseAuditableJSON([]byte(`{"packages":[{"name":"a","version":"1"}`)); err == nil {
		t.Error("truncated JSON accepted")
	}
	if _, err := inflate(bomb); err == nil {
		t.Error("zlib bomb accepted")
	}
}

func FuzzCargoLock(f *testing.F) {
	f.Add([]byte("version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"helper\",\n]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		crates, _ := ParseCargoLock(b)
		for _, c := range crates {
			if !validName(c.Name) || !validVersion(c.Version) {
				t.Fatalf("invalid crate accepted: %+v", c)
			}
		}
	})
}

func FuzzAuditable(f *testing.F) {
	f.Add([]byte(`{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1],"root":true},{"name":"leaf","version":"1.2.0","source":"crates.io"},{"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		crates, _ := ParseAuditableJSON(b)
		for _, c := range crates {
			if !validName(c.Name) || !validVersion(c.Version) {
				t.Fatalf("invalid crate accepted: %+v", c)
			}
		}
		// The same bytes as an executable and as a compressed section.
		ReadAuditable(b)
		inflate(b)
	})
}

func TestLockPaths(t *testing.T) {
	testimage.Needs(t, New(), map[string]analyzer.Need{
		"srv/app/Cargo.lock": analyzer.Content,
		"root/.cargo/registry/src/index.crates.io-6f17d22bba15001f/ripgrep-14.1.0/Cargo.lock": analyzer.Skip,
		"src/app/vendor/regex/Cargo.lock": analyzer.Skip,
	})
}
