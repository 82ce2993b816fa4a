package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

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

// Decide resolves image in the engine (its ID and registry digests)
// and decides about it with DecideDocker, scanning the local image on
// demand when the policy asks for it. An image the engine does not have
// passes: dockerd refuses the create itself, and the client pulls the
// image and creates again, which is decided then.
func (d dockerDecider) Decide(ctx context.Context, image string) (dockerauthz.Decision, error) {
	im, err := dockerauthz.Resolve(ctx, d.host, image)
	if err != nil || im == nil {
		return dockerauthz.Decision{Allow: im == nil}, err
	}
	v, err := d.s.DecideDocker(ctx, *im, d.s.cfg.HostName, &ScanArgs{Image: im.ID, Source: source.KindDocker, Engine: d.host, Reason: "docker-authz"})
	if err != nil {
		return dockerauthz.Decision{}, err
	}
	if v.Action != verdict.Deny {
		return dockerauthz.Decision{Allow: true, Message: string(v.Action) + ": " + v.Reason}, nil
	}
	return dockerauthz.Decision{Message: dockerauthz.Refusal(image, v)}, nil
}

// DecideDocker decides about a Docker Engine's image on host (point
// docker): its report is the stored report of its ID (a scan of the
// local image) or of one of its registry digests (a scan of the
// registry's copy). Without one, scan (when set) scans the local image
// on demand; else the policy's scan on demand reads the registry's copy,
// and an image with no registry reference cannot be scanned.
func (s *Server) DecideDocker(ctx context.Context, im dockerauthz.Image, host string, scan *ScanArgs) (verdict.Verdict, error) {
	digests := im.Digests()
	digest := ""
	for _, c := range digests {
		_, err := s.store.Image(ctx, c)
		if err == nil {
			digest = c
			break
		}
		if !errors.Is(err, store.ErrNotFound) {
			return verdict.Verdict{}, err
		}
	}
	req := DecideRequest{Image: im.Ref, Digest: digest, Host: host, Point: PointDocker, Scan: scan}
	if digest == "" {
		switch {
		case scan != nil:
			req.Digest = im.ID
		case len(digests) > 1:
			req.Digest = digests[1]
		default:
			req.Digest, req.NoScan = im.ID, true
		}
	}
	return s.Decide(ctx, req)
}

// dockerDecide answers a remote plugin (`customs authz`) with the
// verdict on an engine's image it resolved (POST /api/v1/docker/decide).
func (s *Server) dockerDecide(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, dockerauthz.MaxDecideRequest))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body: %v", err)
		return
	}
	req, err := dockerauthz.ParseDecideRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	v, err := s.DecideDocker(r.Context(), req.Image, req.Host, nil)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
