package source

import (
	"context"
	"os"
	"path/filepath"
)

// openPodman finds input among Podman's local images through its
// Docker-compatible API: --podman-host, $CONTAINER_HOST, the system socket,
// then the user's socket.
func openPodman(ctx context.Context, input string, o *Options) (Image, error) {
	host, how := PodmanHost(o)
	return openEngine(ctx, input, o, KindPodman, "Podman service", host, how)
}

// PodmanHost is the address of the Podman service that o leads to, and
// where it came from: o.PodmanHost, $CONTAINER_HOST, the system socket when
// it exists, else the user's socket.
func PodmanHost(o *Options) (host, how string) {
	if o.PodmanHost != "" {
		return o.PodmanHost, "--podman-host"
	}
	if h := os.Getenv("CONTAINER_HOST"); h != "" {
		return h, "CONTAINER_HOST"
	}
	const system = "/run/podman/podman.sock"
	if _, err := os.Stat(system); err == nil {
		return "unix://" + system, "the system socket"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return "unix://" + filepath.Join(d, "podman", "podman.sock"), "the user socket"
	}
	return "unix://" + system, "the system socket"
}
