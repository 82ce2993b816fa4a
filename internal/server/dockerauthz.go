package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/dockerauthz"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/verdict"
)

// PointDocker names the Docker authorization plugin in logged verdicts.
const PointDocker = "docker"

// DockerAuthzConfig configures the Docker Engine authorization plugin
// (docs/kubernetes.md).
type DockerAuthzConfig struct {
	// Socket is the Unix socket the plugin answers dockerd on ("": no
	// plugin). dockerd finds a plugin NAME at /run/docker/plugins/NAME.sock,
	// or through a spec file /etc/docker/plugins/NAME.spec naming the
	// socket.
	Socket string
	// FailOpen lets a container create through when no decision could be
	// made (the store or the engine did not answer in time); by default it
	// is refused.
	FailOpen bool
	// Timeout bounds one decision, a scan on demand included (default
	// 25 s: dockerd waits 30 s for a plugin).
	Timeout time.Duration
}

// dockerHost is the Docker Engine the plugin resolves images in: the
// watched engine's address, else $DOCKER_HOST, else the default socket.
func (s *Server) dockerHost() string {
	if h := s.cfg.Watch.DockerHost; h != "" {
		return h
	}
	if h := os.Getenv(client.EnvOverrideHost); h != "" {
		return h
	}
	return client.DefaultDockerHost
}

// serveDockerAuthz answers dockerd's authorization calls until ctx ends.
func (s *Server) serveDockerAuthz(ctx context.Context) error {
	c := s.cfg.DockerAuthz
	p := &dockerauthz.Plugin{Decider: dockerDecider{s: s, host: s.dockerHost()}, FailOpen: c.FailOpen, Timeout: c.Timeout,
		Log: s.log.With("component", "docker-authz")}
	s.log.Info("docker authorization plugin", "socket", c.Socket, "engine", s.dockerHost(), "fail_open", c.FailOpen)
	return p.Serve(ctx, c.Socket)
}

// dockerDecider decides container creates of the Docker Engine at host
// with the server's policy.
type dockerDecider struct {
	s    *Server
	host string
}

// Decide resolves image in the engine (its ID and registry digests),
// finds the stored report of the ID or of a registry digest, and
// evaluates the current policy on it (scanning the local image on
// demand when the policy asks for it). An image the engine does not have
// passes: dockerd refuses the create itself, and the client pulls the
// image and creates again, which is decided then.
func (d dockerDecider) Decide(ctx context.Context, image string) (dockerauthz.Decision, error) {
	s := d.s
	cli, err := client.New(client.WithHost(d.host), client.WithAPIVersionNegotiation(), client.WithUserAgent("customs"))
	if err != nil {
		return dockerauthz.Decision{}, err
	}
	defer cli.Close()
	ins, err := cli.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return dockerauthz.Decision{Allow: true}, nil
	}
	if err != nil {
		return dockerauthz.Decision{}, fmt.Errorf("the Docker Engine at %s: %w", d.host, err)
	}
	id := ins.ID
	if !strings.Contains(id, ":") {
		id = "sha256:" + id
	}
	digest, err := d.storedDigest(ctx, id, ins.RepoDigests)
	if err != nil {
		return dockerauthz.Decision{}, err
	}
	ref := policyRef(image, id, ins.RepoTags, ins.RepoDigests)
	v, err := s.Decide(ctx, DecideRequest{Image: ref, Digest: digest, Host: s.cfg.HostName, Point: PointDocker,
		Scan: &ScanArgs{Image: id, Source: source.KindDocker, Engine: d.host, Reason: "docker-authz"}})
	if err != nil {
		return dockerauthz.Decision{}, err
	}
	if v.Action != verdict.Deny {
		return dockerauthz.Decision{Allow: true, Message: string(v.Action) + ": " + v.Reason}, nil
	}
	return dockerauthz.Decision{Message: describeDockerVerdict(image, v)}, nil
}

// storedDigest is the digest the store knows the image by: its ID (a
// scan of the local image), else one of its registry digests (a scan of
// the registry's copy), else its ID (not scanned yet).
func (d dockerDecider) storedDigest(ctx context.Context, id string, repoDigests []string) (string, error) {
	candidates := []string{id}
	for _, rd := range repoDigests {
		if _, dg, ok := strings.Cut(rd, "@"); ok {
			candidates = append(candidates, dg)
		}
	}
	for _, c := range candidates {
		_, err := d.s.store.Image(ctx, c)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	return id, nil
}

// policyRef is the reference rules match the image by: the name the
// create request gave, unless it gave the image's ID, then the image's
// first tag or registry digest.
func policyRef(image, id string, tags, repoDigests []string) string {
	hex := strings.TrimPrefix(id, "sha256:")
	short := strings.TrimPrefix(image, "sha256:")
	if len(short) < 4 || !strings.HasPrefix(hex, short) {
		return image
	}
	if len(tags) > 0 {
		return tags[0]
	}
	if len(repoDigests) > 0 {
		return repoDigests[0]
	}
	return image
}

// describeDockerVerdict is the refusal dockerd shows the client.
func describeDockerVerdict(image string, v verdict.Verdict) string {
	msg := fmt.Sprintf("customs: image %s is denied by rule %q", image, v.Rule)
	if v.Policy != "" {
		msg += " of policy " + v.Policy
	}
	msg += ": " + v.Reason
	if len(v.Findings) > 0 {
		var fs []string
		for _, f := range v.Findings {
			fs = append(fs, fmt.Sprintf("%s %s", f.Severity, f.ID))
		}
		msg += " (" + strings.Join(fs, ", ") + ")"
	}
	if len(msg) > maxDockerMessage {
		msg = msg[:maxDockerMessage] + "..."
	}
	return msg
}

// maxDockerMessage bounds a refusal's message.
const maxDockerMessage = 1024
