package java

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/analyzer"
	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// unzipPoms lists "group:artifact@version" from every pom.properties in
// the jar at p, as unzip reads them.
func unzipPoms(t testing.TB, p string) []string {
	t.Helper()
	unzip := testimage.RequireTool(t, "unzip")
	names, err := exec.Command(unzip, "-Z1", p).Output()
	if err != nil {
		t.Fatalf("unzip -Z1 %s: %v", p, err)
	}
	var out []string
	for _, n := range strings.Fields(string(names)) {
		if !isPomProperties(n) {
			continue
		}
		b, err := exec.Command(unzip, "-p", p, n).Output()
		if err != nil {
			t.Fatal(err)
		}
		kv := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
				kv[k] = v
			}
		}
		out = append(out, kv["groupId"]+":"+kv["artifactId"]+"@"+kv["version"])
	}
	return out
}

// found lists "path name@version" for every location of every package.
func found(pkgs []model.Package, source string) []string {
	var out []string
	for _, p := range pkgs {
		if source != "" && p.Metadata["java_source"] != source {
			continue
		}
		for _, l := range append([]string{p.Path}, p.Locations...) {
			out = append(out, l+" "+p.Name+"@"+p.Version)
		}
	}
	sort.Strings(out)
	return out
}

func TestDebianJars(t *testing.T) {
	root := testimage.DebianJavaPython(t)
	var want []string
	jars := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".jar") {
			jars++
			rel, _ := filepath.Rel(root, p)
			for _, id := range unzipPoms(t, p) {
				want = append(want, rel+" "+id)
			}
		}
		return nil
	})
	sort.Strings(want)
	want = compact(want)
	if len(want) < 20 {
		t.Fatalf("only %d artifacts in %d jars", len(want), jars)
	}
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.DirLayer(t, root)), []analyzer.Analyzer{New()})
	if got := found(res.Packages, "pom.properties"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("from pom.properties\n got %v\nwant %v", got, want)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %v", res.Warnings)
	}
	// Jars without pom.properties are named from their manifest: bson's
	// Bundle-SymbolicName is org.mongodb.bson, mongodb-driver-core's
	// org.mongodb.driver-core; mongodb-driver's manifest is empty, so only
	// its file name names it.
	want = []string{
		"usr/share/java/bson-3.6.3.jar pkg:maven/org.mongodb/bson@3.6.3 manifest",
		"usr/share/java/mongodb-driver-3.6.3.jar pkg:maven/mongodb-driver/mongodb-driver@3.6.3 filename",
		"usr/share/java/mongodb-driver-core-3.6.3.jar pkg:maven/org.mongodb/mongodb-driver-core@3.6.3 manifest",
	}
	got := map[string]bool{}
	for _, p := range res.Packages {
		got[p.Path+" "+p.PURL+" "+p.Metadata["java_source"]] = true
		if p.Name == "org.apache.logging.log4j:log4j-core" && p.PURL != "pkg:maven/org.apache.logging.log4j/log4j-core@"+p.Version {
			t.Errorf("purl %s", p.PURL)
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %s", w)
		}
	}
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

type member struct {
	name   string
	body   []byte
	stored bool
}

func zipOf(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		if m.stored {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFatJar nests real Debian jars the way Spring Boot (stored, in
// BOOT-INF/lib) and a WAR inside an EAR (deflated) do.
func TestFatJar(t *testing.T) {
	root := testimage.DebianJavaPython(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(root, "usr/share/java", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	war := zipOf(t, member{name: "WEB-INF/lib/log4j-api.jar", body: read("log4j-api.jar")})
	fat := zipOf(t,
		member{name: "META-INF/MANIFEST.MF", body: []byte("Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n\r\n")},
		member{name: "BOOT-INF/lib/slf4j-api.jar", body: read("slf4j-api.jar"), stored: true},
		member{name: "BOOT-INF/lib/httpclient-osgi.jar", body: read("httpclient-osgi.jar"), stored: true},
		member{name: "BOOT-INF/lib/app.war", body: war},
	)
	var want []string
	for _, n := range []string{"slf4j-api.jar", "httpclient-osgi.jar", "log4j-api.jar"} {
		for _, id := range unzipPoms(t, filepath.Join(root, "usr/share/java", n)) {
			want = append(want, "app.jar "+id)
		}
	}
	sort.Strings(want)
	res := testimage.Scan(t, testimage.Image(t, v1.Config{}, testimage.Layer(t, testimage.File("app.jar", string(fat)))), []analyzer.Analyzer{New()})
	if got := found(res.Packages, ""); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, p := range res.Packages {
		if p.Name == "org.apache.logging.log4j:log4j-api" && p.Metadata["java_archive"] != "BOOT-INF/lib/app.war!/WEB-INF/lib/log4j-api.jar" {
			t.Errorf("log4j-api in %q", p.Metadata["java_archive"])
		}
	}
}

func pom(g, a, v string) member {
	return member{name: "META-INF/maven/" + g + "/" + a + "/pom.properties", body: []byte("groupId=" + g + "\nartifactId=" + a + "\nversion=" + v + "\n")}
}

func TestHostileArchives(t *testing.T) {
	// A jar nested 50 deep: the outer levels are read, the rest are not.
	deep := zipOf(t, pom("test", "level49", "1.0"))
	for i := 48; i >= 0; i-- {
		deep = zipOf(t, pom("test", fmt.Sprintf("level%d", i), "1.0"), member{name: "lib/inner.jar", body: deep, stored: i%2 == 0})
	}
	pkgs, warns := Scan(context.Background(), deep, "deep.jar")
	if len(pkgs) != MaxDepth || len(warns) != 1 || !strings.Contains(warns[0], "nested deeper") {
		t.Errorf("deep: %d packages, warnings %v", len(pkgs), warns)
	}
	// A nested jar that inflates past what may be held in memory.
	bomb := zipOf(t, pom("test", "outer", "1.0"), member{name: "BOOT-INF/lib/bomb.jar", body: make([]byte, MaxHeld+1)})
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	pkgs, warns = Scan(context.Background(), bomb, "bomb.jar")
	if len(pkgs) != 1 || len(warns) != 1 || !strings.Contains(warns[0], "zip bomb") {
		t.Errorf("bomb: %v, warnings %v", pkgs, warns)
	}
	// A truncated archive.
	ok := zipOf(t, pom("test", "whole", "1.0"))
	img := testimage.Image(t, v1.Config{}, testimage.Layer(t,
		testimage.File("a/cut.jar", string(ok[:len(ok)-10])),
		testimage.File("b/deep.jar", string(deep)),
		testimage.File("c/bomb.war", string(bomb)),
		testimage.File("d/notes.jar", "not a zip"),
	))
	res := testimage.Scan(t, img, []analyzer.Analyzer{New()})
	if len(res.Warnings) != 4 || len(res.Packages) != MaxDepth+1 {
		t.Errorf("warnings %v packages %v", res.Warnings, found(res.Packages, ""))
	}
}

func FuzzJar(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Scan(context.Background(), b, "x.jar")
		for _, p := range pkgs {
			if !strings.HasPrefix(p.PURL, "pkg:maven/") || !validVersion(p.Version) {
				t.Fatalf("%+v", p)
			}
		}
	})
}
