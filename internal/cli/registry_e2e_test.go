package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// storageTree lists every file and directory under root.
func storageTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// pushTestImage pushes an image whose one layer holds git credentials to
// repoTag on r.
func pushTestImage(t *testing.T, r *testenv.TestRegistry, repoTag string) v1.Image {
	t.Helper()
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("root/.git-credentials", "https://ci:Zq8vT3mLw9XcR2pY7nKd@git.example.com\n")))
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var opts []remote.Option
	if r.User != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password}))
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return img
}

func runMain(t *testing.T, args ...string) (int, []byte, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.Bytes(), errb.String()
}

func auditFindingIDs(t *testing.T, out []byte) []string {
	t.Helper()
	var res registry.AuditResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("audit report: %v\n%s", err, out)
	}
	var ids []string
	for _, f := range res.Findings {
		ids = append(ids, f.ID+":"+string(f.Severity))
	}
	sort.Strings(ids)
	return ids
}

// TestRegistryEndToEndDebian audits and scans Debian's docker-registry
// (distribution 2.8.2) through the command line, open and with htpasswd.
func TestRegistryEndToEndDebian(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Run("open", func(t *testing.T) {
		r := testenv.Registry(t, testenv.RegistryOptions{})
		img := pushTestImage(t, r, "team/app:1.0")
		before := storageTree(t, r.Storage)
		code, out, stderr := runMain(t, "registry", "audit", r.Host, "--probe-push", "--probe-delete", "-f", "json")
		if code != ExitOK {
			t.Fatalf("audit exit %d: %s", code, stderr)
		}
		want := []string{"registry-anonymous-api:MEDIUM", "registry-anonymous-catalog:HIGH", "registry-anonymous-pull:HIGH",
			"registry-anonymous-push:CRITICAL", "registry-anonymous-tags:MEDIUM", "registry-plaintext:CRITICAL"}
		if got := auditFindingIDs(t, out); !slices.Equal(got, want) {
			t.Errorf("audit findings\n got  %v\n want %v", got, want)
		}
		if after := storageTree(t, r.Storage); !slices.Equal(before, after) {
			t.Errorf("probes left data behind:\n before %v\n after  %v", before, after)
		}

		code, out, stderr = runMain(t, "registry", "scan", r.Host, "--plain-http", "--scanners", "secret", "--no-cache", "-q", "-f", "json")
		if code != ExitOK {
			t.Fatalf("scan exit %d: %s", code, stderr)
		}
		digest, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		checkScan(t, out, digest.String(), r.Host+"/team/app:1.0")
	})
	t.Run("htpasswd", func(t *testing.T) {
		r := testenv.Registry(t, testenv.RegistryOptions{User: "admin", Password: "Harbor12345"})
		img := pushTestImage(t, r, "team/app:1.0")
		before := storageTree(t, r.Storage)
		code, out, stderr := runMain(t, "registry", "audit", "http://"+r.Host, "--probe-push", "--probe-delete", "--probe-credentials", "-f", "json")
		if code != ExitOK {
			t.Fatalf("audit exit %d: %s", code, stderr)
		}
		want := []string{"registry-credential-push:CRITICAL", "registry-default-credentials:CRITICAL", "registry-plaintext:CRITICAL"}
		if got := auditFindingIDs(t, out); !slices.Equal(got, want) {
			t.Errorf("audit findings\n got  %v\n want %v", got, want)
		}
		if after := storageTree(t, r.Storage); !slices.Equal(before, after) {
			t.Errorf("probes left data behind:\n before %v\n after  %v", before, after)
		}
		code, _, _ = runMain(t, "registry", "scan", r.Host, "--plain-http", "--scanners", "secret", "--no-cache", "-q", "-f", "json")
		if code == ExitOK {
			t.Error("scan without credentials succeeded")
		}
		code, out, stderr = runMain(t, "registry", "scan", r.Host, "--plain-http", "--scanners", "secret", "--no-cache", "-q", "-f", "json",
			"--username", r.User, "--password", r.Password)
		if code != ExitOK {
			t.Fatalf("scan exit %d: %s", code, stderr)
		}
		digest, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		checkScan(t, out, digest.String(), r.Host+"/team/app:1.0")
	})
}

// checkScan expects one image, digest, tagged ref, with exactly the
// git-credentials secret the test put in it and the plain-HTTP pull.
func checkScan(t *testing.T, out []byte, digest, ref string) {
	t.Helper()
	var rep registry.ScanReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("scan report: %v\n%s", err, out)
	}
	if st := rep.Stats; st.Repositories != 1 || st.Tags != 1 || st.Images != 1 || st.Scanned != 1 || st.Failed != 0 || st.LayersWalked != 1 {
		t.Errorf("stats %+v", st)
	}
	if len(rep.Images) != 1 || rep.Images[0].Digest != digest || !slices.Equal(rep.Images[0].Refs, []string{ref}) {
		t.Errorf("images %+v, want %s at %s", rep.Images, digest, ref)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, string(f.Class)+"/"+f.ID+"@"+f.Path+f.Location)
	}
	sort.Strings(got)
	want := []string{"integrity/integrity-plain-http-pull@" + strings.Replace(ref, ":1.0", "@"+digest, 1), "secret/git-credentials@root/.git-credentials"}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n got  %v\n want %v", got, want)
	}
}

// TestRegistryScanGate: `registry scan` is the image pipeline: the
// ignore file and --severity filter every image, --exit-code gates on
// what remains, and an image whose vulnerability data is missing fails
// the gate with exit 2.
func TestRegistryScanGate(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := testenv.Registry(t, testenv.RegistryOptions{})
	pushTestImage(t, r, "team/app:1.0")
	scan := []string{"registry", "scan", r.Host, "--plain-http", "--no-cache", "-q", "-f", "json", "--db-dir", vulndb.SampleName}

	code, out, stderr := runMain(t, append(scan, "--exit-code", "3")...)
	if code != 3 {
		t.Fatalf("gate on findings: exit %d: %s\n%s", code, stderr, out)
	}
	ignore := filepath.Join(t.TempDir(), "ignore.yaml")
	if err := os.WriteFile(ignore, []byte("ignore:\n  - id: git-credentials\n    reason: test fixture\n  - id: integrity-plain-http-pull\n    reason: test registry\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runMain(t, append(scan, "--exit-code", "3", "--ignorefile", ignore, "--scanners", "secret")...)
	if code != ExitOK {
		t.Fatalf("gate with the findings ignored: exit %d: %s\n%s", code, stderr, out)
	}
	var rep registry.ScanReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 || rep.Stats.Scanned != 1 {
		t.Errorf("findings left after the ignore file: %+v, stats %+v", rep.Findings, rep.Stats)
	}
	code, _, stderr = runMain(t, append(scan, "--exit-code", "3", "--severity", "CRITICAL", "--scanners", "secret")...)
	if code != ExitOK {
		t.Errorf("--severity CRITICAL left findings: exit %d: %s", code, stderr)
	}

	// A Debian image, scanned without a database: the gate cannot pass.
	img := testimage.Image(t, v1.Config{},
		testimage.Layer(t, testimage.File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")),
		testimage.Layer(t, testimage.File("var/lib/dpkg/status", "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u1\nSource: glibc\n\n")))
	ref, err := name.ParseReference(r.Host+"/team/debian:12", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runMain(t, "registry", "scan", r.Host, "--plain-http", "--no-cache", "-q", "-f", "json",
		"--db-dir", t.TempDir(), "--exit-code", "3", "--repo", "team/debian")
	if code != ExitError || !strings.Contains(stderr, "no vulnerability database") {
		t.Errorf("gate without a database: exit %d: %s", code, stderr)
	}
}
