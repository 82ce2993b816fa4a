package watch_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/watch"
)

// engineClient is a client of the Docker-API engine at host.
func engineClient(t *testing.T, host string) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// load loads the archive at p into the engine, as `docker load` does, and
// returns the engine's ID of each tag; the images are removed at the end of
// the test.
func load(t *testing.T, cli *client.Client, p string, tags ...string) []string {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := cli.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("loading images: %v", err)
	}
	out, _ := io.ReadAll(io.LimitReader(res, 1<<20))
	res.Close()
	if strings.Contains(string(out), `"error"`) {
		t.Fatalf("loading images: %s", out)
	}
	var ids []string
	for _, tag := range tags {
		ins, err := cli.ImageInspect(ctx, tag)
		if err != nil {
			t.Fatalf("inspecting %s after loading it: %v", tag, err)
		}
		id := ins.ID
		if !strings.HasPrefix(id, "sha256:") {
			id = "sha256:" + id
		}
		ids = append(ids, id)
		t.Cleanup(func() { _, _ = cli.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true}) })
	}
	return ids
}

// testEngineWatch proves List and Watch on a Docker-API engine.
func testEngineWatch(t *testing.T, engine, host string, open func(host string, opts ...watch.Option) (watch.Watcher, error)) {
	cli := engineClient(t, host)
	ctx := context.Background()
	before := tinyImage(t)
	beforeTag := uniqueTag(t)
	beforeID := load(t, cli, writeArchive(t, map[string]v1.Image{beforeTag: before}), beforeTag)[0]

	w, err := open(host)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.Name(), engine) || !strings.Contains(w.Name(), host) {
		t.Errorf("name %q does not say %s at %s", w.Name(), engine, host)
	}

	// List sees the loaded image, with its tag, and its Input opens exactly
	// it through the scan pipeline's sources.
	ims, err := w.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	im := findImage(t, ims, beforeID)
	if im.Engine != engine || im.Host != host || !refsAre(im.Refs, beforeTag) {
		t.Errorf("listed %+v, want engine %s at %s with ref %s", im, engine, host, beforeTag)
	}
	opts := im.SourceOptions(source.Options{})
	opened, err := source.Open(ctx, im.Input, &opts)
	if err != nil {
		t.Fatalf("opening %s with %+v: %v", im.Input, opts, err)
	}
	cfg, err := before.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if m := opened.Meta(); m.Kind != engine || len(m.Layers) != 1 || m.Layers[0].DiffID != cfg.RootFS.DiffIDs[0].String() {
		t.Errorf("opened %s as %s with layers %+v, want the loaded image from %s", im.Input, m.Kind, m.Layers, engine)
	}
	opened.Close()

	// Watch reports what the engine holds, then each change.
	r := startWatch(t, w.Watch)
	if ev := r.next(beforeID); ev.Kind != watch.Added || ev.Changed || !refsAre(ev.Image.Refs, beforeTag) {
		t.Errorf("first event %+v, want the image already there, added", ev)
	}

	// A load of two images: each reported once, added, with its tag.
	a, b := tinyImage(t), tinyImage(t)
	aTag, bTag := uniqueTag(t), uniqueTag(t)
	ids := load(t, cli, writeArchive(t, map[string]v1.Image{aTag: a, bTag: b}), aTag, bTag)
	tags := map[string]string{ids[0]: aTag, ids[1]: bTag}
	for range 2 {
		ev := r.next(ids...)
		if ev.Kind != watch.Added || ev.Changed || !refsAre(ev.Image.Refs, tags[ev.Image.ID]) || ev.Image.Input != ev.Image.ID {
			t.Errorf("after the load: %+v, want %s added with ref %s", ev, ev.Image.ID, tags[ev.Image.ID])
		}
	}

	// A new tag: the image again, changed, with both tags.
	aTag2 := uniqueTag(t)
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: aTag, Target: aTag2}); err != nil {
		t.Fatal(err)
	}
	if ev := r.next(ids[0]); ev.Kind != watch.Added || !ev.Changed || !refsAre(ev.Image.Refs, aTag, aTag2) {
		t.Errorf("after tagging: %+v, want %s changed with refs %s and %s", ev, ids[0], aTag, aTag2)
	}

	// Untagging one of two tags: changed, one tag left.
	if _, err := cli.ImageRemove(ctx, aTag, client.ImageRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := r.next(ids[0]); ev.Kind != watch.Added || !ev.Changed || !refsAre(ev.Image.Refs, aTag2) {
		t.Errorf("after untagging: %+v, want %s changed with ref %s only", ev, ids[0], aTag2)
	}

	// Removing the image: removed.
	if _, err := cli.ImageRemove(ctx, ids[1], client.ImageRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if ev := r.next(ids...); ev.Kind != watch.Removed || ev.Image.ID != ids[1] {
		t.Errorf("after removing %s: %+v", ids[1], ev)
	}

	// Nothing more about these images, and nothing twice.
	r.quiet(time.Second, beforeID, ids[0], ids[1])
	r.stop()
	if n := r.count(watch.Added, ids[1]); n != 1 {
		t.Errorf("%s reported added %d times, want once", ids[1], n)
	}

	// A watch from what a caller saw before: the image since removed, the
	// one since retagged and the one unchanged. Only the differences are
	// reported.
	ims, err = w.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	known := []watch.Image{
		findImage(t, ims, beforeID),
		{Engine: engine, Host: host, ID: ids[1], Input: ids[1], Refs: []string{bTag}},
		{Engine: engine, Host: host, ID: ids[0], Input: ids[0], Refs: []string{aTag}},
	}
	r = startWatch(t, func(ctx context.Context, fn func(watch.Event)) error { return w.WatchFrom(ctx, known, fn) })
	if ev := r.next(beforeID, ids[0], ids[1]); ev.Kind != watch.Removed || ev.Image.ID != ids[1] || !refsAre(ev.Image.Refs, bTag) {
		t.Errorf("watching from what was known: %+v, want %s removed", ev, ids[1])
	}
	if ev := r.next(beforeID, ids[0], ids[1]); ev.Kind != watch.Added || !ev.Changed || ev.Image.ID != ids[0] || !refsAre(ev.Image.Refs, aTag2) {
		t.Errorf("watching from what was known: %+v, want %s changed to ref %s", ev, ids[0], aTag2)
	}
	r.quiet(time.Second, beforeID, ids[0], ids[1])
	r.stop()
}

func TestDocker(t *testing.T) {
	testEngineWatch(t, watch.EngineDocker, testenv.Docker(t), watch.Docker)
}

func TestPodman(t *testing.T) {
	testEngineWatch(t, watch.EnginePodman, testenv.Podman(t), watch.Podman)
}

// TestDockerReconnect cuts the watcher off the engine, changes the store
// meanwhile, and lets it back in: it reports what changed while it was away.
func TestDockerReconnect(t *testing.T) {
	host := testenv.Docker(t)
	cli := engineClient(t, host)
	gone, stays := tinyImage(t), tinyImage(t)
	goneTag, staysTag := uniqueTag(t), uniqueTag(t)
	ids := load(t, cli, writeArchive(t, map[string]v1.Image{goneTag: gone, staysTag: stays}), goneTag, staysTag)

	checkReconnect(t, host, func(path string, opt watch.Option) (watch.Watcher, error) {
		return watch.Docker("unix://"+path, opt)
	}, ids, func() {
		if _, err := cli.ImageRemove(context.Background(), ids[0], client.ImageRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}, func(tag string) string {
		return load(t, cli, writeArchive(t, map[string]v1.Image{tag: tinyImage(t)}), tag)[0]
	})
}
