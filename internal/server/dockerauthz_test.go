package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/dockerauthz"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/verdict"
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
	_, cli := testenv.DockerAuthz(t, cfg.DockerAuthz.Socket, link)
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

// TestDockerDecide: POST /api/v1/docker/decide (customs authz asking a
// remote server) needs an admin token, refuses malformed images, and
// decides on the stored report of a registry digest; an image no
// registry holds and no report describes is unscanned, with no scan
// queued.
func TestDockerDecide(t *testing.T) {
	reg := registry(t)
	ref := reg + "/team/app:1"
	digest := push(t, ref, vulnerableImage(t, "decide"))
	eachStore(t, func(t *testing.T, dsn string) {
		ts := start(t, t.TempDir(), dsn)
		if code := ts.call(t, "PUT", "/api/v1/policies", ts.admin, []byte(dockerPolicy), nil); code != 201 {
			t.Fatalf("put policy: %d", code)
		}
		var queued ScanStatus
		if code := ts.call(t, "POST", "/api/v1/scans", ts.admin, ScanRequest{Image: ref, PlainHTTP: true}, &queued); code != 202 {
			t.Fatal(code)
		}
		ts.wait(t, queued.ID)
		id := "sha256:" + strings.Repeat("0", 64)
		req := dockerauthz.DecideRequest{Image: dockerauthz.Image{Ref: ref, ID: id, RepoDigests: []string{reg + "/team/app@" + digest}}, Host: "node-1"}
		if code := ts.call(t, "POST", "/api/v1/docker/decide", ts.read, req, nil); code != 403 {
			t.Errorf("read token: %d", code)
		}
		if code := ts.call(t, "POST", "/api/v1/docker/decide", ts.admin, []byte(`{"image":"a","id":"sha256:1"}`), nil); code != 400 {
			t.Errorf("bad id: %d", code)
		}
		var v verdict.Verdict
		if code := ts.call(t, "POST", "/api/v1/docker/decide", ts.admin, req, &v); code != 200 || v.Action != verdict.Deny || v.Rule != "no-secrets" {
			t.Errorf("stored image: %d %+v", code, v)
		}
		local := dockerauthz.DecideRequest{Image: dockerauthz.Image{Ref: "app:dev", ID: id}}
		if code := ts.call(t, "POST", "/api/v1/docker/decide", ts.admin, local, &v); code != 200 || v.Action != verdict.Deny || v.Rule != verdict.RuleUnscanned {
			t.Errorf("local image: %d %+v", code, v)
		}
		var vs struct {
			Verdicts []store.VerdictRecord `json:"verdicts"`
		}
		if code := ts.call(t, "GET", "/api/v1/verdicts?digest="+digest, ts.read, nil, &vs); code != 200 || len(vs.Verdicts) != 1 ||
			vs.Verdicts[0].Point != PointDocker || vs.Verdicts[0].Host != "node-1" {
			t.Errorf("verdicts: %d %+v", code, vs)
		}
	})
}
