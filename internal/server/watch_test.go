package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/testenv"
)

func TestHostQueue(t *testing.T) {
	valid := regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`)
	seen := map[string]string{}
	for _, h := range []string{"test-host", "Node-1.example.com", "node_1.example.com", "---", "", "a--b", "ünïcode", string(make([]byte, 200))} {
		q := HostQueue(h)
		if !valid.MatchString(q) || len(q) > 64 {
			t.Errorf("HostQueue(%q) = %q: not a River queue name", h, q)
		}
		if other, ok := seen[q]; ok {
			t.Errorf("HostQueue(%q) = HostQueue(%q) = %q", h, other, q)
		}
		seen[q] = h
	}
}

// TestWatchDocker loads images into a Docker Engine the server watches:
// they are scanned and listed under the host without an API call; a new
// name is recorded without a rescan; an image that leaves the engine, live
// or while the server is down, is marked removed.
func TestWatchDocker(t *testing.T) {
	host := testenv.Docker(t)
	cli, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	eachStore(t, func(t *testing.T, dsn string) {
		cfg := newConfig(t.TempDir(), dsn)
		cfg.Watch = WatchConfig{Docker: true, DockerHost: host}
		ts := startWith(t, cfg)
		suffix := t.Name()[len("TestWatchDocker/"):]

		// load loads an image named customs-watch/LABEL:SUFFIX (the store under test) and returns
		// its ID and tag.
		load := func(label string) (string, name.Tag) {
			tag := mustTag(t, "customs-watch/"+label+":"+suffix)
			img := vulnerableImage(t, label+" "+t.Name())
			id, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := tarball.Write(tag, img, &buf); err != nil {
				t.Fatal(err)
			}
			res, err := cli.ImageLoad(ctx, &buf, client.ImageLoadWithQuiet(true))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res)
			res.Close()
			return id.String(), tag
		}
		remove := func(id string) {
			if _, err := cli.ImageRemove(ctx, id, client.ImageRemoveOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
		}
		kept, keptTag := load("kept")
		gone, _ := load("gone")
		down, _ := load("down")

		imA := waitImage(t, ts, kept, "", func(im store.Image) bool { return len(im.Refs) == 1 })
		if im := waitImage(t, ts, gone, "", nil); im.Findings == 0 || im.LastScan == 0 || im.Source != store.SourceDocker {
			t.Errorf("scanned image: %+v", im)
		}
		waitImage(t, ts, down, "", nil)
		if r := imA.Refs[0]; r.Source != store.SourceDocker || r.Host != "test-host" || r.Repository != keptTag.Context().Name() ||
			r.Tag != keptTag.TagStr() || r.RemovedAt != nil {
			t.Errorf("refs: %+v", imA.Refs)
		}

		// A new name: one more reference, no rescan.
		other := mustTag(t, "customs-watch/other:"+suffix)
		if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: kept, Target: other.String()}); err != nil {
			t.Fatal(err)
		}
		waitImage(t, ts, kept, "", func(im store.Image) bool { return len(im.Refs) == 2 })
		wantScans(t, ts, kept, 1)

		// Removed live.
		remove(gone)
		if im := waitImage(t, ts, gone, "&include_removed=true", func(im store.Image) bool { return im.Removed }); im.Refs[0].RemovedAt == nil {
			t.Errorf("removed image: %+v", im)
		}
		if _, live := listHost(t, ts, "")[gone]; live {
			t.Errorf("removed image %s still listed", gone)
		}

		var hosts struct{ Hosts []HostStatus }
		if code := ts.call(t, "GET", "/api/v1/hosts", ts.read, nil, &hosts); code != 200 || len(hosts.Hosts) != 1 ||
			hosts.Hosts[0].Name != "test-host" || hosts.Hosts[0].Stale || len(hosts.Hosts[0].Engines) != 1 {
			t.Errorf("hosts: %d %+v", code, hosts)
		}

		// Removed while the server was down: marked removed once it is
		// back; what stayed is not scanned again.
		ts.stop()
		remove(down)
		ts = startWith(t, cfg)
		waitImage(t, ts, down, "&include_removed=true", func(im store.Image) bool { return im.Removed })
		time.Sleep(time.Second)
		if im := listHost(t, ts, "")[kept]; len(im.Refs) != 2 {
			t.Errorf("kept image after a restart: %+v", im)
		}
		wantScans(t, ts, kept, 1)
		remove(kept)
	})
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// listHost lists the images of test-host by digest.
func listHost(t *testing.T, ts *testServer, query string) map[string]store.Image {
	t.Helper()
	var page store.ImagePage
	if code := ts.call(t, "GET", "/api/v1/images?host=test-host"+query, ts.read, nil, &page); code != 200 {
		t.Fatalf("images: %d", code)
	}
	out := map[string]store.Image{}
	for _, im := range page.Images {
		out[im.Digest] = im
	}
	return out
}

// waitImage waits until digest is listed under test-host and ok (when
// given) holds of it.
func waitImage(t *testing.T, ts *testServer, digest, query string, ok func(store.Image) bool) store.Image {
	t.Helper()
	var im store.Image
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		var listed bool
		if im, listed = listHost(t, ts, query)[digest]; listed && (ok == nil || ok(im)) {
			return im
		}
	}
	t.Fatalf("image %s: not as expected under the host: %+v", digest, im)
	return im
}

func wantScans(t *testing.T, ts *testServer, digest string, n int) {
	t.Helper()
	var scans struct{ Scans []json.RawMessage }
	if code := ts.call(t, "GET", "/api/v1/images/"+digest+"/scans", ts.read, nil, &scans); code != 200 || len(scans.Scans) != n {
		t.Errorf("scans of %s: %d, %d, want %d", digest, code, len(scans.Scans), n)
	}
}

// TestWatchContainerdNamespaces: one image under the same name in two
// containerd namespaces is two references, each with its namespace; a
// restarted server knows where each is (no rescan), and removing the
// image from one namespace removes only that reference.
func TestWatchContainerdNamespaces(t *testing.T) {
	sock := testenv.Containerd(t)
	c, err := containerd.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	img := vulnerableImage(t, "containerd namespaces")
	tag := mustTag(t, "customs-watch/ns:1")
	var archive bytes.Buffer
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	nss := []string{"customs-ns-a", "customs-ns-b"}
	imported := map[string]string{}
	var digest string // containerd's manifest of the archive
	for _, ns := range nss {
		ctx := namespaces.WithNamespace(context.Background(), ns)
		ims, err := c.Import(ctx, bytes.NewReader(archive.Bytes()))
		if err != nil || len(ims) != 1 {
			t.Fatalf("import into %s: %v %+v", ns, err, ims)
		}
		imported[ns], digest = ims[0].Name, ims[0].Target.Digest.String()
		t.Cleanup(func() { _ = c.ImageService().Delete(ctx, ims[0].Name) })
	}
	cfg := newConfig(t.TempDir(), "")
	cfg.Watch = WatchConfig{Containerd: true, ContainerdAddress: sock}
	ts := startWith(t, cfg)
	namespacesOf := func(im store.Image, live bool) []string {
		var out []string
		for _, r := range im.Refs {
			if r.Source != store.SourceContainerd || r.Repository != tag.Context().Name() || r.Tag != tag.TagStr() {
				t.Errorf("reference %+v, want %s in containerd", r, tag)
			}
			if !live || r.RemovedAt == nil {
				out = append(out, r.Namespace)
			}
		}
		slices.Sort(out)
		return out
	}
	im := waitImage(t, ts, digest, "", func(im store.Image) bool { return len(im.Refs) == 2 })
	if got := namespacesOf(im, true); !slices.Equal(got, nss) {
		t.Errorf("namespaces of the references: %v, want %v", got, nss)
	}
	var scans struct{ Scans []json.RawMessage }
	ts.call(t, "GET", "/api/v1/images/"+digest+"/scans", ts.read, nil, &scans)
	before := len(scans.Scans)

	ts.stop()
	ts = startWith(t, cfg)
	ctx := namespaces.WithNamespace(context.Background(), nss[1])
	if err := c.ImageService().Delete(ctx, imported[nss[1]]); err != nil {
		t.Fatal(err)
	}
	im = waitImage(t, ts, digest, "", func(im store.Image) bool { return len(namespacesOf(im, true)) == 1 })
	if got := namespacesOf(im, true); !slices.Equal(got, nss[:1]) || len(im.Refs) != 2 {
		t.Errorf("after removing the image from %s: live in %v, references %+v", nss[1], got, im.Refs)
	}
	wantScans(t, ts, digest, before)
}
