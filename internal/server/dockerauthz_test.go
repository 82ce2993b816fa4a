package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
)

// dockerPolicy denies images with secrets, scans unscanned images on
// demand and denies them when no report comes in time.
const dockerPolicy = `name: docker-test
unscanned:
  scan-on-demand: true
  timeout: 20s
rules:
  - name: no-secrets
    when:
      findings:
        class: [secret]
    action: deny
`

// startWithDockerAuthz starts a server whose Docker authorization plugin
// answers a dockerd of its own, and returns the server and a client of
// that dockerd. The engine's address is only known once it runs, and it
// starts after the plugin: the server is given a symbolic link that then
// points at the engine's socket.
func startWithDockerAuthz(t *testing.T, dsn string) (*testServer, *client.Client) {
	t.Helper()
	dir := t.TempDir()
	link := filepath.Join(dir, "docker.sock")
	cfg := newConfig(t.TempDir(), dsn)
	cfg.DockerAuthz = DockerAuthzConfig{Socket: filepath.Join(dir, "authz.sock")}
	cfg.Watch.DockerHost = "unix://" + link
	ts := startWith(t, cfg)
	host, _ := testenv.DockerAuthz(t, cfg.DockerAuthz.Socket)
	if err := os.Symlink(strings.TrimPrefix(host, "unix://"), link); err != nil {
		t.Fatal(err)
	}
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return ts, cli
}

// TestDockerAuthz: dockerd started with the server's plugin creates a
// container from a clean image and refuses one from an image the policy
// denies, with customs' reason; both unscanned images are scanned on
// demand from the engine, and each decision is logged.
func TestDockerAuthz(t *testing.T) {
	eachStore(t, func(t *testing.T, dsn string) {
		ts, cli := startWithDockerAuthz(t, dsn)
		if code := ts.call(t, "PUT", "/api/v1/policies", ts.admin, []byte(dockerPolicy), nil); code != 201 {
			t.Fatalf("put policy: %d", code)
		}
		ctx := context.Background()
		clean := testenv.DockerLoad(t, cli, "customs-authz/clean:1", cleanImage(t, "clean "+t.Name()))
		risky := testenv.DockerLoad(t, cli, "customs-authz/risky:1", vulnerableImage(t, "risky "+t.Name()))

		if _, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "customs-authz/clean:1", Cmd: []string{"/bin/true"}}}); err != nil {
			t.Errorf("create from the clean image: %v", err)
		}
		_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "customs-authz/risky:1"}})
		if err == nil || !strings.Contains(err.Error(), `customs: image customs-authz/risky:1 is denied by rule "no-secrets"`) {
			t.Errorf("create from the risky image: %v", err)
		}
		// By ID: the same decision.
		_, err = cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: risky[len("sha256:") : len("sha256:")+12]}})
		if err == nil || !strings.Contains(err.Error(), `"no-secrets"`) {
			t.Errorf("create from the risky image by ID: %v", err)
		}
		for _, id := range []string{clean, risky} {
			if im, err := ts.store.Image(ctx, id); err != nil || im.Source != store.SourceDocker {
				t.Errorf("image %s scanned on demand: %+v %v", id, im, err)
			}
		}
		var vs struct {
			Verdicts []store.VerdictRecord `json:"verdicts"`
		}
		if code := ts.call(t, "GET", "/api/v1/verdicts?digest="+risky, ts.read, nil, &vs); code != 200 || len(vs.Verdicts) != 2 ||
			vs.Verdicts[0].Point != PointDocker || vs.Verdicts[0].Rule != "no-secrets" || vs.Verdicts[0].Host != "test-host" {
			t.Errorf("verdicts: %d %+v", code, vs)
		}
	})
}
