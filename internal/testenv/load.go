package testenv

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/moby/moby/client"
)

// LoadImage loads the `docker save` archive at path into the Docker-API
// engine (Docker or Podman) at host, as `docker load` does, and removes
// the image tagged tag when the test ends.
func LoadImage(t testing.TB, host, path, tag string) {
	t.Helper()
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := cli.ImageLoad(context.Background(), f, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("loading %s into %s: %v", path, host, err)
	}
	out, _ := io.ReadAll(res)
	res.Close()
	if strings.Contains(string(out), `"error"`) {
		t.Fatalf("loading %s into %s: %s", path, host, out)
	}
	t.Cleanup(func() { _, _ = cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}) })
}

// ImportImage imports the `docker save` archive at path into the
// containerd namespace ns at sock, as `ctr images import` does, returns
// the images it recorded and removes them when the test ends.
func ImportImage(t testing.TB, sock, ns, path string) []images.Image {
	t.Helper()
	c, err := containerd.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := namespaces.WithNamespace(context.Background(), ns)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imported, err := c.Import(ctx, f)
	if err != nil {
		t.Fatalf("importing %s into containerd: %v", path, err)
	}
	t.Cleanup(func() {
		for _, i := range imported {
			_ = c.ImageService().Delete(ctx, i.Name)
		}
	})
	return imported
}
