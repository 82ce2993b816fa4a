package cli

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/testimage"
)

// realTag is the tag of the real archive testimage.AlpineWithPackages.
const realTag = "alpine-with-packages:latest"

// reportLines are what must not depend on where an image was read from:
// the OS, each package with the layer that brought it, and each finding.
func reportLines(rep *report.Report) []string {
	out := []string{"os " + rep.Artifact.OS.Family + " " + rep.Artifact.OS.Version}
	for _, p := range rep.Packages {
		out = append(out, "package "+p.Type+" "+p.Name+" "+p.Version+" "+p.LayerDiffID)
	}
	for _, f := range rep.Findings {
		out = append(out, "finding "+f.ID+" "+f.Path+f.Location+" "+string(f.Severity))
	}
	slices.Sort(out)
	return out
}

// loadDockerAPI loads the archive at p into a Docker-API engine (Docker or
// Podman) and removes it at the end of the test.
func loadDockerAPI(t *testing.T, host, p string) {
	t.Helper()
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := cli.ImageLoad(context.Background(), f, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("loading into %s: %v", host, err)
	}
	out, _ := io.ReadAll(res)
	res.Close()
	if strings.Contains(string(out), `"error"`) {
		t.Fatalf("loading into %s: %s", host, out)
	}
	t.Cleanup(func() { _, _ = cli.ImageRemove(context.Background(), realTag, client.ImageRemoveOptions{Force: true}) })
}

// TestRealImageEverySource reads a real `docker save` archive (Alpine 3.20
// with packages added by apk in later layers) as the archive itself, as an
// OCI layout, and after loading it into a real Docker Engine, Podman and
// containerd: every source gives the same OS, packages (each with the
// layer that brought it) and findings.
func TestRealImageEverySource(t *testing.T) {
	archive := testimage.AlpineWithPackages(t)
	common := []string{"--db-dir", "builtin:sample", "--no-cache"}
	scan := func(what string, args ...string) []string {
		t.Helper()
		code, rep, stderr := jsonReport(t, append(append([]string{"image"}, args...), common...)...)
		if rep == nil || code != ExitOK {
			t.Fatalf("%s: exit %d: %s", what, code, stderr)
		}
		return reportLines(rep)
	}
	want := scan("docker-archive", archive)
	if len(want) < 35 || !slices.Contains(want, "os alpine 3.20.2") {
		t.Fatalf("the archive's report: %v", want)
	}

	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string][]string{"oci-layout": {writeLayout(t, img)}}

	docker := testenv.Docker(t)
	loadDockerAPI(t, docker, archive)
	sources["docker"] = []string{realTag, "--source", "docker", "--docker-host", docker}

	podman := testenv.Podman(t)
	loadDockerAPI(t, podman, archive)
	sources["podman"] = []string{realTag, "--source", "podman", "--podman-host", podman}

	sock := testenv.Containerd(t)
	c, err := containerd.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(context.Background(), "default")
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	imported, err := c.Import(ctx, f)
	f.Close()
	if err != nil {
		t.Fatalf("importing into containerd: %v", err)
	}
	t.Cleanup(func() {
		for _, i := range imported {
			_ = c.ImageService().Delete(ctx, i.Name)
		}
	})
	sources["containerd"] = []string{realTag, "--source", "containerd", "--containerd-address", sock, "--containerd-namespace", "default"}

	for what, args := range sources {
		expect := want
		if args[0] == realTag {
			// Named by its :latest tag, a local image also has the
			// tag-latest finding, which a path has no reason to carry.
			expect = append(slices.Clone(want), "finding tag-latest input MEDIUM")
			slices.Sort(expect)
		}
		if got := scan(what, args...); !slices.Equal(got, expect) {
			t.Errorf("%s differs from the archive: only there %v, only in the archive %v", what, minus(got, expect), minus(expect, got))
		}
	}
}

// minus returns the lines of a that are not in b.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
