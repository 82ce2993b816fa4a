package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Where containerd is found when neither the options nor the environment say.
const (
	defaultContainerdAddress = "/run/containerd/containerd.sock"
	envContainerdAddress     = "CONTAINERD_ADDRESS"
	envContainerdNamespace   = "CONTAINERD_NAMESPACE"
)

// openContainerd finds input among containerd's images and reads its
// manifest, configuration and layers from the content store, each blob
// checked against its digest.
func openContainerd(ctx context.Context, input string, o *Options) (Image, error) {
	addr, how := o.ContainerdAddress, "--containerd-address"
	if addr == "" {
		addr, how = os.Getenv(envContainerdAddress), envContainerdAddress
	}
	if addr == "" {
		addr, how = defaultContainerdAddress, "the default socket"
	}
	sock := strings.TrimPrefix(addr, "unix://")
	if _, err := os.Stat(sock); err != nil {
		return nil, fmt.Errorf("no containerd at %s (from %s): the socket does not exist; start containerd or point --containerd-address or %s elsewhere", addr, how, envContainerdAddress)
	}
	cli, err := containerd.New(sock, containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("cannot reach containerd at %s (is it running, and may this user use its socket?): %w", addr, err)
	}
	img, err := findContainerdImage(ctx, cli, input, o, addr)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return withClose(img, cli.Close), nil
}

func findContainerdImage(ctx context.Context, cli *containerd.Client, input string, o *Options, addr string) (RandomAccess, error) {
	nss := []string{o.ContainerdNamespace}
	if nss[0] == "" {
		nss[0] = os.Getenv(envContainerdNamespace)
	}
	if nss[0] == "" {
		nss = []string{"k8s.io", "default"}
	}
	byDigest, isDigest := targetDigest(input)
	names := []string{input}
	if ref, err := reference.ParseDockerRef(input); err == nil && ref.String() != input {
		names = append(names, ref.String())
	}
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		for _, n := range names {
			ci, err := cli.ImageService().Get(nctx, n)
			if cerrdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("looking up %s in containerd at %s (namespace %s): %w", n, addr, ns, err)
			}
			return openContainerdRecord(nctx, cli, ci, input, o, addr, ns)
		}
		if isDigest {
			found, err := cli.ImageService().List(nctx, "target.digest=="+byDigest.String())
			if err != nil {
				return nil, fmt.Errorf("looking up %s in containerd at %s (namespace %s): %w", input, addr, ns, err)
			}
			if len(found) > 0 {
				return openContainerdRecord(nctx, cli, found[0], input, o, addr, ns)
			}
		}
	}
	return nil, fmt.Errorf("containerd at %s has no image %q in namespace %s (import or pull it first, or pick the namespace with --containerd-namespace)", addr, input, strings.Join(nss, " or "))
}

// targetDigest reads input as the digest of an image record's target (its
// manifest or index), the way `ctr images ls` and nerdctl show an image:
// when no record is called input (CRI names records by configuration
// digest), it names exactly that content, whatever the records holding it
// are called and wherever their tags move.
func targetDigest(input string) (digest.Digest, bool) {
	if !strings.HasPrefix(input, "sha256:") {
		return "", false
	}
	d, err := digest.Parse(input)
	return d, err == nil
}

// openContainerdRecord opens the image an image record names.
func openContainerdRecord(nctx context.Context, cli *containerd.Client, ci images.Image, input string, o *Options, addr, ns string) (RandomAccess, error) {
	store := &containerdStore{ctx: nctx, cs: cli.ContentStore()}
	target := v1.Descriptor{MediaType: types.MediaType(ci.Target.MediaType), Digest: v1.Hash{Algorithm: ci.Target.Digest.Algorithm().String(), Hex: ci.Target.Digest.Encoded()}, Size: ci.Target.Size}
	v1img, err := imageFromBlob(store, target, o.Platform)
	if err != nil {
		return nil, fmt.Errorf("image %s in containerd at %s (namespace %s): %w", ci.Name, addr, ns, err)
	}
	ra, err := FromV1(v1img, input, KindContainerd, ci.Name)
	if err != nil {
		return nil, fmt.Errorf("image %s in containerd at %s (namespace %s): %w", ci.Name, addr, ns, err)
	}
	return ra, nil
}

// containerdStore reads blobs from containerd's content store.
type containerdStore struct {
	ctx context.Context
	cs  content.Store
}

func (s *containerdStore) blob(d v1.Hash) (io.ReadCloser, error) {
	dg, err := digest.Parse(d.String())
	if err != nil {
		return nil, err
	}
	ra, err := s.cs.ReaderAt(s.ctx, ocispec.Descriptor{Digest: dg})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("containerd's content store has no blob %s (the image is incomplete; pull it again): %w", d, errors.Unwrap(err))
		}
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(ra, 0, ra.Size()), ra}, nil
}
