package watch_test

import (
	"context"
	"os"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/watch"
)

// containerdClient is a client of the containerd at sock in namespace ns.
func containerdClient(t *testing.T, sock string) *containerd.Client {
	t.Helper()
	c, err := containerd.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// importArchive imports the archive at p into namespace ns and returns the
// target digest of each tag's record; the records are deleted at the end of
// the test.
func importArchive(t *testing.T, c *containerd.Client, ns, p string, tags ...string) []string {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), ns)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imported, err := c.Import(ctx, f)
	if err != nil {
		t.Fatalf("importing into containerd: %v", err)
	}
	t.Cleanup(func() {
		for _, im := range imported {
			_ = c.ImageService().Delete(ctx, im.Name)
		}
	})
	var ids []string
	for _, tag := range tags {
		for _, im := range imported {
			if sameRef(im.Name, tag) {
				ids = append(ids, im.Target.Digest.String())
			}
		}
	}
	if len(ids) != len(tags) {
		t.Fatalf("imported %+v, want records for %v", imported, tags)
	}
	return ids
}

func TestContainerd(t *testing.T) {
	sock := testenv.Containerd(t)
	c := containerdClient(t, sock)
	const ns = "customs-watch-test"
	ctx := namespaces.WithNamespace(context.Background(), ns)
	before := tinyImage(t)
	beforeTag := uniqueTag(t)
	beforeID := importArchive(t, c, ns, writeArchive(t, map[string]v1.Image{beforeTag: before}), beforeTag)[0]

	// Every namespace, and one: both list the image, in its namespace.
	all, err := watch.Containerd(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	ims, err := all.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if im := findImage(t, ims, beforeID); im.Namespace != ns || !refsAre(im.Refs, beforeTag) {
		t.Errorf("listing every namespace: %+v, want namespace %s and ref %s", im, ns, beforeTag)
	}
	if _, err := watch.Containerd(sock, "no/such namespace"); err == nil {
		t.Error("an invalid namespace was accepted")
	}
	w, err := watch.Containerd(sock, ns)
	if err != nil {
		t.Fatal(err)
	}
	ims, err = w.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ims) != 1 {
		t.Errorf("namespace %s lists %d images, want the one imported", ns, len(ims))
	}
	im := findImage(t, ims, beforeID)
	if im.Engine != watch.EngineContainerd || im.Host != sock || im.Namespace != ns || !refsAre(im.Refs, beforeTag) || im.Input != beforeID {
		t.Errorf("listed %+v", im)
	}
	// Its Input opens it through the scan pipeline's containerd source.
	opts := im.SourceOptions(source.Options{})
	opened, err := source.Open(context.Background(), im.Input, &opts)
	if err != nil {
		t.Fatalf("opening %s with %+v: %v", im.Input, opts, err)
	}
	cfg, err := before.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if m := opened.Meta(); m.Kind != source.KindContainerd || len(m.Layers) != 1 || m.Layers[0].DiffID != cfg.RootFS.DiffIDs[0].String() {
		t.Errorf("opened %s as %s with layers %+v, want the imported image", im.Input, m.Kind, m.Layers)
	}
	opened.Close()

	r := startWatch(t, w.Watch)
	if ev := r.next(beforeID); ev.Kind != watch.Added || ev.Changed || !refsAre(ev.Image.Refs, beforeTag) {
		t.Errorf("first event %+v, want the image already there, added", ev)
	}

	// An import of two images: each added once, with its tag.
	a, b := tinyImage(t), tinyImage(t)
	aTag, bTag := uniqueTag(t), uniqueTag(t)
	ids := importArchive(t, c, ns, writeArchive(t, map[string]v1.Image{aTag: a, bTag: b}), aTag, bTag)
	tags := map[string]string{ids[0]: aTag, ids[1]: bTag}
	for range 2 {
		ev := r.next(ids...)
		if ev.Kind != watch.Added || ev.Changed || !refsAre(ev.Image.Refs, tags[ev.Image.ID]) || ev.Image.Namespace != ns {
			t.Errorf("after the import: %+v, want %s added with ref %s", ev, ev.Image.ID, tags[ev.Image.ID])
		}
	}

	// A second record for the same target (a tag): changed, both names.
	aRecord, err := c.ImageService().Get(ctx, aTag)
	if err != nil {
		t.Fatal(err)
	}
	aTag2 := uniqueTag(t)
	if _, err := c.ImageService().Create(ctx, images.Image{Name: aTag2, Target: aRecord.Target}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ImageService().Delete(ctx, aTag2) })
	if ev := r.next(ids[0]); ev.Kind != watch.Added || !ev.Changed || !refsAre(ev.Image.Refs, aTag, aTag2) {
		t.Errorf("after tagging: %+v, want %s changed with refs %s and %s", ev, ids[0], aTag, aTag2)
	}

	// The last record of b gone: removed.
	if err := c.ImageService().Delete(ctx, bTag); err != nil {
		t.Fatal(err)
	}
	if ev := r.next(ids...); ev.Kind != watch.Removed || ev.Image.ID != ids[1] {
		t.Errorf("after deleting %s: %+v", bTag, ev)
	}
	r.quiet(time.Second, beforeID, ids[0], ids[1])
	r.stop()
}

// TestContainerdReconnect cuts the watcher off containerd, changes the
// store meanwhile, and lets it back in.
func TestContainerdReconnect(t *testing.T) {
	sock := testenv.Containerd(t)
	c := containerdClient(t, sock)
	const ns = "customs-watch-reconnect"
	ctx := namespaces.WithNamespace(context.Background(), ns)
	goneTag, staysTag := uniqueTag(t), uniqueTag(t)
	ids := importArchive(t, c, ns, writeArchive(t, map[string]v1.Image{goneTag: tinyImage(t), staysTag: tinyImage(t)}), goneTag, staysTag)

	checkReconnect(t, sock, func(path string, opt watch.Option) (watch.Watcher, error) {
		return watch.Containerd(path, ns, opt)
	}, ids, func() {
		if err := c.ImageService().Delete(ctx, goneTag); err != nil {
			t.Fatal(err)
		}
	}, func(tag string) string {
		return importArchive(t, c, ns, writeArchive(t, map[string]v1.Image{tag: tinyImage(t)}), tag)[0]
	})
}
