package source_test

import (
	"context"
	"strings"
	"testing"

	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testenv"
)

// With no --source, a reference that no source holds yields one error
// naming every source tried, each with its reason and what to do.
func TestOpenNamesEverySourceTried(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("CONTAINER_HOST", "")
	_, err := source.Open(context.Background(), "127.0.0.1:1/team/nowhere:1", &source.Options{
		DockerHost:        "unix://" + dir + "/docker.sock",
		PodmanHost:        "unix://" + dir + "/podman.sock",
		ContainerdAddress: dir + "/containerd.sock",
	})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`could not find image "127.0.0.1:1/team/nowhere:1" in any source`,
		"docker: no Docker Engine at unix://" + dir + "/docker.sock (from --docker-host)",
		"--docker-host or DOCKER_HOST",
		"containerd: no containerd at " + dir + "/containerd.sock (from --containerd-address)",
		"podman: no Podman service at unix://" + dir + "/podman.sock (from --podman-host)",
		"registry: ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Index(msg, "docker:") > strings.Index(msg, "containerd:") || strings.Index(msg, "containerd:") > strings.Index(msg, "podman:") || strings.Index(msg, "podman:") > strings.Index(msg, "registry:") {
		t.Errorf("sources not tried in the order docker, containerd, podman, registry:\n%s", msg)
	}
	t.Log(msg)
}

func TestOpenEngineWithoutImage(t *testing.T) {
	host := testenv.Docker(t)
	_, err := source.Open(context.Background(), "customs-test/absent:never", &source.Options{Source: source.KindDocker, DockerHost: host})
	if err == nil || !strings.Contains(err.Error(), `has no image "customs-test/absent:never"`) || !strings.Contains(err.Error(), "pull or load it") {
		t.Errorf("docker: %v", err)
	}
}
