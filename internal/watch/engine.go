package watch

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/source"
)

// engine is a store behind the Docker Engine API: a Docker Engine or
// Podman's Docker-compatible service.
type engine struct {
	kind string // EngineDocker or EnginePodman
	host string
	opts options
}

// Docker watches the Docker Engine at host ("" means $DOCKER_HOST, else the
// default socket, as the scan pipeline resolves it).
func Docker(host string, opts ...Option) (Watcher, error) {
	if host == "" {
		host = os.Getenv(client.EnvOverrideHost)
	}
	if host == "" {
		host = client.DefaultDockerHost
	}
	return newEngine(EngineDocker, host, opts)
}

// Podman watches the Podman service at host through its Docker-compatible
// API ("" means what the scan pipeline would use: $CONTAINER_HOST, the
// system socket, the user's socket). Its /events endpoint streams Podman's
// image events (pull, load, tag, untag, remove) whatever events backend the
// service uses (tests run it with the file backend).
func Podman(host string, opts ...Option) (Watcher, error) {
	if host == "" {
		host, _ = source.PodmanHost(&source.Options{})
	}
	return newEngine(EnginePodman, host, opts)
}

func newEngine(kind, host string, opts []Option) (*engine, error) {
	e := &engine{kind: kind, host: host, opts: buildOptions(opts)}
	cli, err := e.client()
	if err != nil {
		return nil, err
	}
	cli.Close()
	return e, nil
}

// client opens a client of the engine; it connects on first use.
func (e *engine) client() (*client.Client, error) {
	cli, err := client.New(client.WithHost(e.host), client.WithAPIVersionNegotiation(), client.WithUserAgent("customs"))
	if err != nil {
		return nil, fmt.Errorf("%s address %s: %w", e.kind, e.host, err)
	}
	return cli, nil
}

func (e *engine) Name() string { return e.kind + " at " + e.host }

func (e *engine) List(ctx context.Context) ([]Image, error) {
	ims, err := listStore(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Name(), err)
	}
	return ims, nil
}

func (e *engine) Watch(ctx context.Context, fn func(Event)) error {
	return run(ctx, e, e.opts, nil, fn)
}

func (e *engine) WatchFrom(ctx context.Context, known []Image, fn func(Event)) error {
	return run(ctx, e, e.opts, known, fn)
}

// list reads the engine's image list: top-level images, dangling ones
// included, not the intermediate images of the classic builder.
func (e *engine) list(ctx context.Context) ([]Image, error) {
	cli, err := e.client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	res, err := cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return nil, err
	}
	ims := make([]Image, 0, len(res.Items))
	for _, s := range res.Items {
		id := s.ID
		if !strings.Contains(id, ":") {
			id = "sha256:" + id // Podman may leave the algorithm out
		}
		ims = append(ims, Image{
			Engine: e.kind, Host: e.host, ID: id, Input: id,
			Refs:        named(s.RepoTags, "<none>:<none>"),
			RepoDigests: named(s.RepoDigests, "<none>@<none>"),
		})
	}
	return ims, nil
}

// named drops the placeholder an engine lists for a missing name.
func named(names []string, none string) []string {
	var out []string
	for _, n := range names {
		if n != "" && n != none {
			out = append(out, n)
		}
	}
	return out
}

// storeActions are the event actions after which the store may hold other
// images or names: of images, Docker's (pull, load, import, tag, untag,
// delete, push, prune; create with the containerd image store) and
// Podman's (remove, build); of containers, commit.
var storeActions = []string{"pull", "load", "import", "tag", "untag", "delete", "push", "prune", "create", "remove", "build", "commit"}

// subscribe follows the engine's events, filtered by the engine to
// storeActions of images and containers; of a container's, only a commit
// (which makes an image) counts.
func (e *engine) subscribe(ctx context.Context, changed func()) (<-chan error, error) {
	cli, err := e.client()
	if err != nil {
		return nil, err
	}
	filters := make(client.Filters).Add("type", string(events.ImageEventType), string(events.ContainerEventType)).Add("event", storeActions...)
	res := cli.Events(ctx, client.EventsListOptions{Filters: filters})
	ended := make(chan error, 1)
	go func() {
		defer cli.Close()
		for {
			select {
			case m := <-res.Messages:
				if m.Type == events.ImageEventType || m.Action == events.ActionCommit {
					changed()
				}
			case err := <-res.Err:
				ended <- err
				return
			}
		}
	}()
	return ended, nil
}
