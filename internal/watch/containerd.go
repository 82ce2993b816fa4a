package watch

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
)

// containerdStore is containerd's image store, in one namespace or all.
type containerdStore struct {
	address   string
	namespace string // "" for every namespace
	opts      options
}

// Containerd watches containerd's image records at address ("" means
// $CONTAINERD_ADDRESS, else /run/containerd/containerd.sock) in namespace
// ("" means $CONTAINERD_NAMESPACE, else every namespace).
//
// containerd has no image IDs: an image is a named record pointing to a
// manifest or index (its target). The watcher reports one Image per
// namespace and target digest, its ID that digest, its Refs the records'
// names (repository:tag), its RepoDigests the names of records made by
// digest (repository@sha256:...); names that are bare digests (CRI's
// records by configuration digest) are left out. Events come from the
// events service (topics /images/create, /images/update, /images/delete).
func Containerd(address, namespace string, opts ...Option) (Watcher, error) {
	if address == "" {
		address = os.Getenv("CONTAINERD_ADDRESS")
	}
	if address == "" {
		address = "/run/containerd/containerd.sock"
	}
	if namespace == "" {
		namespace = os.Getenv("CONTAINERD_NAMESPACE")
	}
	if namespace != "" {
		if err := identifiers.Validate(namespace); err != nil {
			return nil, fmt.Errorf("containerd namespace: %w", err)
		}
	}
	return &containerdStore{address: address, namespace: namespace, opts: buildOptions(opts)}, nil
}

// client opens a client of containerd; it connects on first use.
func (c *containerdStore) client() (*containerd.Client, error) {
	cli, err := containerd.New(strings.TrimPrefix(c.address, "unix://"), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd at %s: %w", c.address, err)
	}
	return cli, nil
}

func (c *containerdStore) Name() string {
	if c.namespace == "" {
		return "containerd at " + c.address
	}
	return "containerd at " + c.address + " (namespace " + c.namespace + ")"
}

func (c *containerdStore) List(ctx context.Context) ([]Image, error) {
	ims, err := listStore(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return ims, nil
}

func (c *containerdStore) Watch(ctx context.Context, fn func(Event)) error {
	return run(ctx, c, c.opts, nil, fn)
}

func (c *containerdStore) WatchFrom(ctx context.Context, known []Image, fn func(Event)) error {
	return run(ctx, c, c.opts, known, fn)
}

// list reads the image records of the namespace (or of every namespace)
// and groups them by target.
func (c *containerdStore) list(ctx context.Context) ([]Image, error) {
	cli, err := c.client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	nss := []string{c.namespace}
	if c.namespace == "" {
		if nss, err = cli.NamespaceService().List(ctx); err != nil {
			return nil, fmt.Errorf("listing namespaces: %w", err)
		}
	}
	var ims []Image
	for _, ns := range nss {
		records, err := cli.ImageService().List(namespaces.WithNamespace(ctx, ns))
		if err != nil {
			return nil, fmt.Errorf("listing images of namespace %s: %w", ns, err)
		}
		if len(ims)+len(records) > maxImages {
			return nil, errTooMany
		}
		byTarget := map[string]int{} // target digest → index in ims
		for _, r := range records {
			id := r.Target.Digest.String()
			i, ok := byTarget[id]
			if !ok {
				i = len(ims)
				byTarget[id] = i
				ims = append(ims, Image{Engine: EngineContainerd, Host: c.address, Namespace: ns, ID: id, Input: id})
			}
			switch {
			case strings.HasPrefix(r.Name, "sha256:"): // a CRI record named by configuration digest
			case strings.Contains(r.Name, "@"):
				ims[i].RepoDigests = append(ims[i].RepoDigests, r.Name)
			default:
				ims[i].Refs = append(ims[i].Refs, r.Name)
			}
		}
	}
	return ims, nil
}

// subscribe follows the events service's image topics.
func (c *containerdStore) subscribe(ctx context.Context, changed func()) (<-chan error, error) {
	cli, err := c.client()
	if err != nil {
		return nil, err
	}
	filter := `topic~="^/images/"`
	if c.namespace != "" {
		filter = "namespace==" + c.namespace + "," + filter
	}
	msgs, errs := cli.Subscribe(ctx, filter)
	ended := make(chan error, 1)
	go func() {
		defer cli.Close()
		for {
			select {
			case <-msgs:
				changed()
			case err := <-errs:
				ended <- err
				return
			}
		}
	}()
	return ended, nil
}
