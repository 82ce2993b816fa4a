package source

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// engineImage is an image held by a Docker Engine or by Podman's
// Docker-compatible service. Its metadata comes from inspecting it; its
// layers come from the engine's image export, one stream.
type engineImage struct {
	meta     Meta
	cli      *client.Client
	id       string
	platform *ocispec.Platform
}

// openDocker finds input among a Docker Engine's local images.
func openDocker(ctx context.Context, input string, o *Options) (Image, error) {
	host := o.DockerHost
	how := "--docker-host"
	if host == "" {
		host, how = os.Getenv(client.EnvOverrideHost), "DOCKER_HOST"
	}
	if host == "" {
		host, how = client.DefaultDockerHost, "the default socket"
	}
	return openEngine(ctx, input, o, KindDocker, "Docker Engine", host, how)
}

// openEngine inspects input through the Docker Engine API at host.
func openEngine(ctx context.Context, input string, o *Options, kind, engine, host, how string) (Image, error) {
	if sock, ok := strings.CutPrefix(host, "unix://"); ok {
		if _, err := os.Stat(sock); err != nil {
			return nil, fmt.Errorf("no %s at %s (from %s): the socket does not exist; start the engine or point %s elsewhere", engine, host, how, engineFlag(kind))
		}
	}
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation(), client.WithUserAgent("customs"))
	if err != nil {
		return nil, fmt.Errorf("%s address %s (from %s): %w", engine, host, how, err)
	}
	img, err := inspectEngineImage(ctx, cli, input, o, kind, engine, host)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return img, nil
}

func engineFlag(kind string) string {
	if kind == KindPodman {
		return "--podman-host or CONTAINER_HOST"
	}
	return "--docker-host or DOCKER_HOST"
}

func inspectEngineImage(ctx context.Context, cli *client.Client, input string, o *Options, kind, engine, host string) (Image, error) {
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var plat *ocispec.Platform
	var iopts []client.ImageInspectOption
	var hopts []client.ImageHistoryOption
	if o.Platform != nil {
		plat = &ocispec.Platform{OS: o.Platform.OS, Architecture: o.Platform.Architecture, Variant: o.Platform.Variant}
		iopts = append(iopts, client.ImageInspectWithPlatform(plat))
		hopts = append(hopts, client.ImageHistoryWithPlatform(*plat))
	}
	ins, err := cli.ImageInspect(ictx, input, iopts...)
	if err != nil {
		switch {
		case client.IsErrConnectionFailed(err):
			return nil, fmt.Errorf("cannot reach the %s at %s (is it running, and may this user use its socket?): %w", engine, host, err)
		case cerrdefs.IsNotFound(err):
			return nil, fmt.Errorf("the %s at %s has no image %q (pull or load it first, or name another source with --source)", engine, host, input)
		}
		return nil, fmt.Errorf("inspecting %q in the %s at %s: %w", input, engine, host, err)
	}
	hist, err := cli.ImageHistory(ictx, ins.ID, hopts...)
	if err != nil {
		return nil, fmt.Errorf("reading the history of %q from the %s at %s: %w", input, engine, host, err)
	}
	cfg, err := engineConfig(ins.InspectResponse, hist.Items)
	if err != nil {
		return nil, fmt.Errorf("image %q in the %s at %s: %w", input, engine, host, err)
	}
	id := ins.ID
	if !strings.Contains(id, ":") {
		id = "sha256:" + id
	}
	meta := Meta{Input: input, Kind: kind, Name: resolvedName(input, ins.RepoTags), Digest: id, Config: cfg, RepoDigests: ins.RepoDigests}
	if d := repoDigest(input, ins.RepoDigests); d != "" {
		meta.Digest = d
	}
	for _, d := range cfg.RootFS.DiffIDs {
		meta.Layers = append(meta.Layers, LayerMeta{DiffID: d.String()})
	}
	return &engineImage{meta: meta, cli: cli, id: ins.ID, platform: plat}, nil
}

// engineConfig rebuilds the image configuration from what the engine's
// inspect and history calls return, so that a fully cached scan needs no
// export. The history does not mark empty layers; entries of size 0 are
// taken as empty when that leaves exactly one entry per layer.
func engineConfig(ins image.InspectResponse, hist []image.HistoryResponseItem) (*v1.ConfigFile, error) {
	cfg := &v1.ConfigFile{Architecture: ins.Architecture, OS: ins.Os, Variant: ins.Variant, OSVersion: ins.OsVersion, Author: ins.Author}
	if t, err := time.Parse(time.RFC3339Nano, ins.Created); err == nil {
		cfg.Created = v1.Time{Time: t}
	}
	if ins.Config != nil {
		b, err := json.Marshal(ins.Config)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &cfg.Config); err != nil {
			return nil, fmt.Errorf("reading its configuration: %w", err)
		}
	}
	cfg.RootFS.Type = ins.RootFS.Type
	for _, l := range ins.RootFS.Layers {
		h, err := v1.NewHash(l)
		if err != nil {
			return nil, fmt.Errorf("layer diff ID %q: %w", l, err)
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
	}
	nonEmpty := 0
	for _, h := range hist {
		if h.Size > 0 {
			nonEmpty++
		}
	}
	markEmpty := nonEmpty == len(cfg.RootFS.DiffIDs)
	if !markEmpty && len(hist) != len(cfg.RootFS.DiffIDs) {
		return cfg, nil // cannot pair history with layers: leave it out
	}
	for i := len(hist) - 1; i >= 0; i-- { // the engine lists newest first
		h := hist[i]
		cfg.History = append(cfg.History, v1.History{
			Created: v1.Time{Time: time.Unix(h.Created, 0).UTC()}, CreatedBy: h.CreatedBy, Comment: h.Comment,
			EmptyLayer: markEmpty && h.Size == 0,
		})
	}
	return cfg, nil
}

// resolvedName is the full reference input names, or the image's first
// tag when input is an image ID.
func resolvedName(input string, tags []string) string {
	if ref, err := name.ParseReference(input); err == nil && !strings.HasPrefix(input, "sha256:") && !isHexID(input) {
		return ref.Name()
	}
	if len(tags) > 0 {
		return tags[0]
	}
	return ""
}

func isHexID(s string) bool {
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// repoDigest picks the manifest digest of input's repository, else the
// first one the engine knows.
func repoDigest(input string, digests []string) string {
	repo := ""
	if ref, err := name.ParseReference(input); err == nil {
		repo = ref.Context().Name()
	}
	first := ""
	for _, rd := range digests {
		n, d, ok := strings.Cut(rd, "@")
		if !ok {
			continue
		}
		if first == "" {
			first = d
		}
		if r, err := name.NewRepository(n); err == nil && r.Name() == repo {
			return d
		}
	}
	return first
}

func (e *engineImage) Meta() *Meta  { return &e.meta }
func (e *engineImage) Close() error { return e.cli.Close() }

// maxJSONSniff is the largest export entry inspected to tell JSON
// metadata from a layer.
const maxJSONSniff = 1 << 20

// StreamLayers exports the image and hands over each layer as its bytes
// arrive. It understands Docker 20.10's "<id>/layer.tar" export, Docker
// 25+'s OCI layout ("blobs/sha256/...") and Podman's "<digest>.tar"; JSON
// entries (configurations, manifests) and other metadata are skipped.
func (e *engineImage) StreamLayers(ctx context.Context, fn func(r io.Reader) error) error {
	var opts []client.ImageSaveOption
	if e.platform != nil {
		opts = append(opts, client.ImageSaveWithPlatforms(*e.platform))
	}
	rc, err := e.cli.ImageSave(ctx, []string{e.id}, opts...)
	if err != nil {
		return fmt.Errorf("exporting %s from the %s: %w", e.meta.Input, e.meta.Kind, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	br := bufio.NewReaderSize(tr, 64<<10)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= maxArchiveEntries {
			return fmt.Errorf("export of %s has more than %d entries", e.meta.Input, maxArchiveEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the export of %s: %w", e.meta.Input, err)
		}
		if h.Typeflag != tar.TypeReg || isExportMetadata(archivePath(h.Name)) {
			continue
		}
		br.Reset(tr)
		if h.Size <= maxJSONSniff && looksLikeJSON(br) {
			continue // a configuration, manifest, index or attestation
		}
		if err := fn(br); err != nil {
			return err
		}
	}
}

// isExportMetadata names the non-layer, non-JSON files of an export.
func isExportMetadata(p string) bool {
	base := p[strings.LastIndex(p, "/")+1:]
	return base == "VERSION" || base == "repositories" || base == "oci-layout" || base == "json"
}
