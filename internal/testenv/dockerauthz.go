package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// PluginSpecDir is where dockerd looks for plugin spec files (it also
// looks for sockets in /run/docker/plugins): machine-wide, so each test
// plugin gets a name of its own.
const PluginSpecDir = "/etc/docker/plugins"

// DockerAuthz starts a Docker Engine for t alone whose every API request
// goes through the authorization plugin answering on socket (dockerd
// activates it at start: it waits up to 10 s for the socket to appear).
// It writes a plugin spec of a name unique to the call in PluginSpecDir,
// starts dockerd with --authorization-plugin of that name, and removes
// both when t ends. When link is set, it is made a symbolic link to the
// engine's socket: a plugin started first can be given the link as the
// engine's address. It returns the engine's address and a client of it.
func DockerAuthz(t testing.TB, socket, link string) (string, *client.Client) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the authorization plugin's socket %s did not appear", socket)
		}
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	plugin := "customs-test-" + hex.EncodeToString(b)
	s := &service{}
	t.Cleanup(s.stop)
	if os.Geteuid() == 0 {
		spec := filepath.Join(PluginSpecDir, plugin+".spec")
		if err := os.MkdirAll(PluginSpecDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(spec, []byte("unix://"+socket+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.stopFn = func() { _ = os.Remove(spec) }
	}
	s.start("dockerd", dockerdArgs("--authorization-plugin", plugin), "docker.sock", apiReady, nil)
	if s.addr == "" {
		unavailable(t, s, "Docker Engine with an authorization plugin")
	}
	if link != "" {
		if err := os.Symlink(s.addr, link); err != nil {
			t.Fatal(err)
		}
	}
	host := "unix://" + s.addr
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return host, cli
}

// DockerLoad loads img into the engine of cli as ref (docker load) and
// returns its image ID.
func DockerLoad(t testing.TB, cli *client.Client, ref string, img v1.Image) string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	res, err := cli.ImageLoad(context.Background(), &buf, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res)
	res.Close()
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}
