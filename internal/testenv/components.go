package testenv

import (
	"os"
	"path/filepath"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/moby/moby/client"
)

// Docker returns the address of a Docker Engine: $DOCKER_HOST when set
// (CI's .ci/run starts one), else a dockerd started for this test binary
// with its data, state and socket under a temporary directory.
func Docker(t testing.TB) string {
	t.Helper()
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	s := get("dockerd")
	s.once.Do(func() {
		s.start("dockerd", dockerdArgs(), "docker.sock", apiReady, nil)
	})
	if s.addr == "" {
		unavailable(t, s, "Docker Engine")
	}
	return "unix://" + s.addr
}

// Containerd returns the socket of a containerd started for this test
// binary from a configuration that keeps its root, state and sockets
// under a temporary directory.
func Containerd(t testing.TB) string {
	t.Helper()
	s := get("containerd")
	s.once.Do(func() {
		s.start("containerd", []string{"--config", "{dir}/config.toml"}, "containerd.sock", func(sock string) error {
			c, err := containerd.New(sock)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := probeCtx()
			defer cancel()
			_, err = c.Version(ctx)
			return err
		}, func(root string) error {
			return os.WriteFile(filepath.Join(root, "config.toml"), []byte(`version = 2
root = "`+root+`/root"
state = "`+root+`/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "`+root+`/containerd.sock"
[ttrpc]
  address = "`+root+`/containerd.sock.ttrpc"
`), 0o600)
		})
	})
	if s.addr == "" {
		unavailable(t, s, "containerd")
	}
	return s.addr
}

// Podman returns the address of a Podman API service started for this
// test binary, its storage (vfs) and run state under a temporary directory.
func Podman(t testing.TB) string {
	t.Helper()
	s := get("podman")
	s.once.Do(func() {
		s.start("podman", []string{
			"--root", "{dir}/root", "--runroot", "{dir}/run", "--storage-driver", "vfs",
			"--tmpdir", "{dir}/tmp", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
			"system", "service", "--time=0", "unix://{dir}/podman.sock",
		}, "podman.sock", apiReady, func(dir string) error { return os.MkdirAll(filepath.Join(dir, "tmp"), 0o700) })
	})
	if s.addr == "" {
		unavailable(t, s, "Podman service")
	}
	return "unix://" + s.addr
}

// dockerdArgs are the arguments of a Docker Engine whose data, state and
// socket are under the service's directory, followed by extra.
func dockerdArgs(extra ...string) []string {
	return append([]string{
		"--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
		"--data-root", "{dir}/data", "--exec-root", "{dir}/exec", "--pidfile", "{dir}/pid",
		"-H", "unix://{dir}/docker.sock",
	}, extra...)
}

// apiReady tells whether the Docker-API engine (Docker or Podman) at sock
// answers a ping.
func apiReady(sock string) error {
	cli, err := client.New(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := probeCtx()
	defer cancel()
	_, err = cli.Ping(ctx, client.PingOptions{})
	return err
}
