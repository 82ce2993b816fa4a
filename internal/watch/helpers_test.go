package watch_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/customs-scanner/customs/internal/testenv"
	"github.com/customs-scanner/customs/internal/watch"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// tinyImage is a random one-layer image of a few hundred bytes for this
// machine's platform, so the engines (dockerd on vfs) store it at once and
// containerd's import keeps it.
func tinyImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// uniqueTag returns a tag no other test or run uses. It names a registry,
// so that every engine keeps it as it is (Podman puts a name without one
// under localhost/, Docker under docker.io).
func uniqueTag(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "registry.customs.test/watch/" + strings.ToLower(t.Name()) + ":t" + hex.EncodeToString(b)
}

// writeArchive writes images as one docker-save archive, each image under
// its tag.
func writeArchive(t testing.TB, images map[string]v1.Image) string {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for tag, img := range images {
		ref, err := name.NewTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs[ref] = img
	}
	p := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tarball.MultiRefWrite(refs, f); err != nil {
		t.Fatal(err)
	}
	return p
}

// sameRef tells whether two references name the same repository and tag,
// however each engine spells them (Docker "repo:tag", Podman and containerd
// "docker.io/repo:tag").
func sameRef(a, b string) bool {
	ra, err := name.ParseReference(a)
	if err != nil {
		return false
	}
	rb, err := name.ParseReference(b)
	if err != nil {
		return false
	}
	return ra.Name() == rb.Name()
}

// refsAre tells whether refs are exactly the tags given.
func refsAre(refs []string, tags ...string) bool {
	if len(refs) != len(tags) {
		return false
	}
	for _, tag := range tags {
		if !slices.ContainsFunc(refs, func(r string) bool { return sameRef(r, tag) }) {
			return false
		}
	}
	return true
}

// recorder runs a watch and collects its events.
type recorder struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
	events chan watch.Event
	mu     sync.Mutex
	seen   []watch.Event
}

// startWatch runs watchFn (a Watcher's Watch, or WatchFrom with what the
// caller knew) until the test ends or stop is called.
func startWatch(t *testing.T, watchFn func(context.Context, func(watch.Event)) error) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{t: t, cancel: cancel, done: make(chan error, 1), events: make(chan watch.Event, 10000)}
	go func() {
		r.done <- watchFn(ctx, func(ev watch.Event) {
			r.mu.Lock()
			r.seen = append(r.seen, ev)
			r.mu.Unlock()
			r.events <- ev
		})
	}()
	t.Cleanup(cancel)
	return r
}

// next returns the first event about one of ids, skipping those about other
// images (the engine may be shared with other tests).
func (r *recorder) next(ids ...string) watch.Event {
	r.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if slices.Contains(ids, ev.Image.ID) {
				return ev
			}
		case err := <-r.done:
			r.t.Fatalf("Watch returned early: %v", err)
		case <-timeout:
			r.t.Fatalf("no event about %v within 30 s", ids)
		}
	}
}

// quiet fails the test when an event about one of ids comes within d.
func (r *recorder) quiet(d time.Duration, ids ...string) {
	r.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-r.events:
			if slices.Contains(ids, ev.Image.ID) {
				r.t.Errorf("unexpected event %s %s (changed %v, refs %v)", ev.Kind, ev.Image.ID, ev.Changed, ev.Image.Refs)
			}
		case <-timeout:
			return
		}
	}
}

// stop cancels the watch and checks that Watch returns the context's error.
func (r *recorder) stop() {
	r.t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if !errors.Is(err, context.Canceled) {
			r.t.Errorf("Watch returned %v after its context was cancelled, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Fatal("Watch did not return within 10 s of its context being cancelled")
	}
}

// count is how many events of kind about id the watch reported.
func (r *recorder) count(kind watch.EventKind, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.seen {
		if ev.Kind == kind && ev.Image.ID == id {
			n++
		}
	}
	return n
}

// findImage returns the image with id in ims.
func findImage(t *testing.T, ims []watch.Image, id string) watch.Image {
	t.Helper()
	for _, im := range ims {
		if im.ID == id {
			return im
		}
	}
	t.Fatalf("no image %s among the %d listed", id, len(ims))
	return watch.Image{}
}

// proxy forwards a Unix socket to an engine's socket and can cut every
// connection and stop accepting, as an engine restart does.
type proxy struct {
	t        *testing.T
	path     string
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
}

func newProxy(t *testing.T, upstream string) *proxy {
	p := &proxy{t: t, path: filepath.Join(t.TempDir(), "proxy.sock"), upstream: strings.TrimPrefix(upstream, "unix://")}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// checkReconnect cuts a watcher off the image store at upstream, which
// holds the images ids, while remove takes the first of them away and add
// stores a new image under a tag and answers its ID; then it lets the
// watcher back in. The watcher must report the broken stream and, back,
// the removal and the addition. open makes the watcher of a socket path
// with an option.
func checkReconnect(t *testing.T, upstream string, open func(path string, opt watch.Option) (watch.Watcher, error),
	ids []string, remove func(), add func(tag string) string) {
	t.Helper()
	p := newProxy(t, upstream)
	var failures atomic.Int32
	w, err := open(p.path, watch.OnError(func(error, time.Duration) { failures.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	r := startWatch(t, w.Watch)
	r.next(ids...)
	r.next(ids...)

	p.stop()
	remove()
	newTag := uniqueTag(t)
	newID := add(newTag)
	for deadline := time.Now().Add(10 * time.Second); failures.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the broken event stream was not reported within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.start()

	if ev := r.next(ids[0], newID); ev.Kind != watch.Removed || ev.Image.ID != ids[0] {
		t.Errorf("after reconnecting: %+v, want %s removed", ev, ids[0])
	}
	if ev := r.next(ids[0], newID); ev.Kind != watch.Added || ev.Image.ID != newID || !refsAre(ev.Image.Refs, newTag) {
		t.Errorf("after reconnecting: %+v, want %s added", ev, newID)
	}
	r.quiet(time.Second, ids[0], ids[1], newID)
	r.stop()
}
