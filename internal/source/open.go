package source

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options say how to reach each kind of source.
type Options struct {
	// Source forces one kind (a Kind* constant); empty means detect.
	Source string
	// Platform picks an image from a multi-platform index (default: the host's).
	Platform *v1.Platform
	// Registry credentials; empty means the Docker config and credential helpers.
	Username, Password string
	// RegistryToken, when set, is sent as a bearer token instead (a
	// token the registry's own token service issued).
	RegistryToken string
	// Insecure skips TLS certificate verification; PlainHTTP allows plain HTTP.
	Insecure, PlainHTTP bool
	// Transport replaces the HTTP transport to registries (tests).
	Transport http.RoundTripper
	// DockerHost is the Docker Engine address (default: DOCKER_HOST or the
	// default socket).
	DockerHost string
	// PodmanHost is Podman's Docker-compatible API address.
	PodmanHost string
	// ContainerdAddress and ContainerdNamespace reach containerd.
	ContainerdAddress, ContainerdNamespace string
}

type opener func(ctx context.Context, input string, o *Options) (Image, error)

// daemonOrder is the order in which a bare reference is looked for.
var daemonOrder = []struct {
	kind string
	open opener
}{
	{KindDocker, openDocker},
	{KindContainerd, openContainerd},
	{KindPodman, openPodman},
	{KindRegistry, openRegistry},
}

var openers = map[string]opener{
	KindRegistry:      openRegistry,
	KindDocker:        openDocker,
	KindContainerd:    openContainerd,
	KindPodman:        openPodman,
	KindDockerArchive: openDockerArchive,
	KindOCILayout:     openOCILayout,
	KindOCIArchive:    openOCIArchive,
	KindRootFS:        openRootFS,
}

// Kinds lists the source kinds that Options.Source accepts.
func Kinds() []string {
	return []string{KindRegistry, KindDocker, KindContainerd, KindPodman, KindDockerArchive, KindOCILayout, KindOCIArchive, KindRootFS}
}

// Open opens input. A path on disk is opened by what it holds; anything
// else is looked up in Docker, containerd and Podman, then in its registry.
// When nothing works, the error names every source tried and why it failed.
func Open(ctx context.Context, input string, o *Options) (Image, error) {
	if o == nil {
		o = &Options{}
	}
	if o.Source != "" {
		open, ok := openers[o.Source]
		if !ok {
			return nil, fmt.Errorf("unknown source %q (one of %s)", o.Source, strings.Join(Kinds(), ", "))
		}
		img, err := open(ctx, input, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Source, err)
		}
		return img, nil
	}
	if kind, err := pathKind(input); err != nil {
		return nil, err
	} else if kind != "" {
		img, err := openers[kind](ctx, input, o)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, input, err)
		}
		return img, nil
	}
	var errs []string
	for _, s := range daemonOrder {
		img, err := s.open(ctx, input, o)
		if err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("  %s: %v", s.kind, err))
	}
	return nil, fmt.Errorf("could not find image %q in any source:\n%s", input, strings.Join(errs, "\n"))
}

// pathKind tells which kind of source a path on disk is, or "" when input
// is not a path.
func pathKind(input string) (string, error) {
	fi, err := os.Stat(input)
	if err != nil {
		if looksLikePath(input) {
			return "", fmt.Errorf("%s: %w", input, err)
		}
		return "", nil
	}
	if fi.IsDir() {
		if _, err := os.Stat(filepath.Join(input, "oci-layout")); err == nil {
			return KindOCILayout, nil
		}
		if _, err := os.Stat(filepath.Join(input, "index.json")); err == nil {
			return KindOCILayout, nil
		}
		return KindRootFS, nil
	}
	f, err := os.Open(input)
	if err != nil {
		return "", err
	}
	defer f.Close()
	kind, err := SniffArchive(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", input, err)
	}
	return kind, nil
}

func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, ".tar.gz") || strings.HasSuffix(s, ".tgz")
}

// SniffArchive reads the entry names of a tar (or the magic of a gzip file)
// to tell a docker-save archive from an OCI archive. It skips entry data by
// seeking.
func SniffArchive(f io.ReadSeeker) (string, error) {
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil {
		return "", fmt.Errorf("not an image archive: %w", err)
	}
	if bytes.Equal(head, []byte{0x1f, 0x8b}) {
		return KindDockerArchive, nil // gzip: streamed; OCI archives are recognised inside
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tr := tar.NewReader(f)
	for i := 0; i < 10000; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a tar archive: %w", err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "manifest.json":
			return KindDockerArchive, nil
		case "oci-layout":
			return KindOCIArchive, nil
		}
	}
	return "", errors.New("neither a docker-save archive (manifest.json) nor an OCI archive (oci-layout)")
}
