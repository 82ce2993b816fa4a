package ownership_test

import (
	"archive/zip"
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/testimage"
)

// jarOf is a jar whose pom.properties names group:artifact:version.
func jarOf(t *testing.T, group, artifact, version string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("META-INF/maven/" + group + "/" + artifact + "/pom.properties")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("groupId=" + group + "\nartifactId=" + artifact + "\nversion=" + version + "\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDebianLanguagePackages: on a debootstrap bookworm, the jars and the
// Python distributions that Debian's packages installed are os_owned, with
// the owning package; the jar and Node module the image author added in a
// later layer are not, nor is six, which the author installed again with
// pip next to Debian's python3-six.
func TestDebianLanguagePackages(t *testing.T) {
	dir := testimage.Debootstrap(t, "liblog4j2-java", "python3-requests")
	const sixByPip = "usr/local/lib/python3.11/dist-packages/six-1.16.0.dist-info/METADATA"
	app := testimage.Layer(t,
		testimage.File("usr/src/app/app-1.0.jar", jarOf(t, "com.example", "app", "1.0")),
		testimage.File("usr/src/app/node_modules/left-pad/package.json", `{"name":"left-pad","version":"1.3.0"}`),
		testimage.File(sixByPip, "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"))
	res := scanLayers(t, dir, app)
	owned := map[string]int{}
	for _, p := range res.Packages {
		switch p.Type {
		case model.TypeMaven, model.TypePyPI, model.TypeNPM:
		default:
			continue
		}
		mine := strings.HasPrefix(p.Path, "usr/src/app/") || slices.Contains(p.Locations, sixByPip)
		switch {
		case mine && (p.OSOwned || p.OSPackage != ""):
			t.Errorf("%s %s (%s %v): the image author's package marked os_owned by %q", p.Type, p.Name, p.Path, p.Locations, p.OSPackage)
		case !mine && !p.OSOwned:
			t.Errorf("%s %s (%s): installed by a Debian package, not marked os_owned", p.Type, p.Name, p.Path)
		case p.Type == model.TypeMaven && p.OSOwned && !(strings.HasPrefix(p.OSPackage, "lib") && strings.HasSuffix(p.OSPackage, "-java")),
			p.Type == model.TypePyPI && p.OSOwned && !strings.HasPrefix(p.OSPackage, "python3-"):
			t.Errorf("%s %s (%s): owner %q", p.Type, p.Name, p.Path, p.OSPackage)
		}
		if p.OSOwned {
			owned[p.Type]++
		}
		if mine {
			owned["mine"]++
		}
	}
	if owned[model.TypeMaven] < 5 || owned[model.TypePyPI] < 5 || owned["mine"] != 3 {
		t.Errorf("os_owned by type %v (want Debian's jars and Python distributions, and the author's 3 packages unowned)", owned)
	}
}
