package source_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testenv"
)

// testEngine loads the sample image into a Docker-API engine and scans it
// by name.
func testEngine(t *testing.T, kind, host string, opts *source.Options) {
	img := sampleImage(t)
	tag := uniqueTag("customs-test/" + kind)
	testenv.LoadImage(t, host, writeDockerArchive(t, img, tag), tag)
	ctx := context.Background()
	opened, err := source.Open(ctx, tag, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	m := opened.Meta()
	if m.Kind != kind {
		t.Errorf("kind %q, want %q", m.Kind, kind)
	}
	if _, ok := opened.(source.Streaming); !ok {
		t.Errorf("%T is not a streaming image", opened)
	}
	// The engine's own record: its image ID is the configuration digest;
	// a repository digest, when the engine keeps one (Podman makes one on
	// load, Docker 20.10 does not), identifies the image instead.
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ins, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if want := configDigest(t, img); !strings.HasSuffix(ins.ID, strings.TrimPrefix(want, "sha256:")) {
		t.Errorf("engine image ID %s, want %s", ins.ID, want)
	}
	want := ins.ID
	if !strings.HasPrefix(want, "sha256:") {
		want = "sha256:" + want
	}
	if len(ins.RepoDigests) > 0 {
		want = ins.RepoDigests[0][strings.Index(ins.RepoDigests[0], "@")+1:]
	}
	if m.Digest != want {
		t.Errorf("digest %s, want %s (engine repo digests %v)", m.Digest, want, ins.RepoDigests)
	}
	if want := "index.docker.io/" + tag; m.Name != want {
		t.Errorf("name %q, want %q", m.Name, want)
	}
	checkScan(t, opened, img)
}

func TestDockerEngine(t *testing.T) {
	host := testenv.Docker(t)
	testEngine(t, source.KindDocker, host, &source.Options{Source: source.KindDocker, DockerHost: host})
}

func TestDockerEngineFoundWithoutSource(t *testing.T) {
	host := testenv.Docker(t)
	// No --source: Docker is tried first and has it.
	testEngine(t, source.KindDocker, host, &source.Options{DockerHost: host})
}

func TestDockerSaveArchive(t *testing.T) {
	host := testenv.Docker(t)
	img := sampleImage(t)
	tag := uniqueTag("customs-test/save")
	testenv.LoadImage(t, host, writeDockerArchive(t, img, tag), tag)
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rc, err := cli.ImageSave(context.Background(), []string{tag})
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/saved.tar"
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	f.Close()
	opened, err := source.Open(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	if opened.Meta().Kind != source.KindDockerArchive {
		t.Errorf("kind %q", opened.Meta().Kind)
	}
	if _, ok := opened.(source.RandomAccess); !ok {
		t.Errorf("%T: a plain archive should be read in place", opened)
	}
	checkScan(t, opened, img)
}

func TestPodman(t *testing.T) {
	host := testenv.Podman(t)
	testEngine(t, source.KindPodman, host, &source.Options{Source: source.KindPodman, PodmanHost: host})
}

func TestContainerd(t *testing.T) {
	sock := testenv.Containerd(t)
	img := sampleImage(t)
	tag := uniqueTag("customs-test/containerd")
	p := writeDockerArchive(t, img, tag)
	// The default namespace: customs looks in k8s.io first, then there.
	imgs := testenv.ImportImage(t, sock, "default", p)
	opened, err := source.Open(context.Background(), tag, &source.Options{Source: source.KindContainerd, ContainerdAddress: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	m := opened.Meta()
	if m.Kind != source.KindContainerd || m.Name != "docker.io/"+tag {
		t.Errorf("kind %q name %q", m.Kind, m.Name)
	}
	if _, ok := opened.(source.RandomAccess); !ok {
		t.Errorf("%T is not a random-access image", opened)
	}
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Layers {
		if l.Digest != mf.Layers[i].Digest.String() || l.Size != mf.Layers[i].Size {
			t.Errorf("layer %d: %s (%d bytes), want %s (%d bytes)", i, l.Digest, l.Size, mf.Layers[i].Digest, mf.Layers[i].Size)
		}
	}
	checkScan(t, opened, img)

	// The record's target digest names the same image, whatever its name.
	byDigest, err := source.Open(context.Background(), imgs[0].Target.Digest.String(), &source.Options{Source: source.KindContainerd, ContainerdAddress: sock})
	if err != nil {
		t.Fatalf("opening by target digest: %v", err)
	}
	defer byDigest.Close()
	if m := byDigest.Meta(); m.Name != "docker.io/"+tag || m.Input != imgs[0].Target.Digest.String() {
		t.Errorf("by target digest: name %q input %q", m.Name, m.Input)
	}
	checkScan(t, byDigest, img)

	_, err = source.Open(context.Background(), tag, &source.Options{Source: source.KindContainerd, ContainerdAddress: sock, ContainerdNamespace: "elsewhere"})
	if err == nil || !strings.Contains(err.Error(), "namespace elsewhere") || !strings.Contains(err.Error(), "--containerd-namespace") {
		t.Errorf("image in another namespace: %v", err)
	}
}
