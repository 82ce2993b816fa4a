package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/watch"
)

// WatchConfig names the local engines whose images this host scans.
type WatchConfig struct {
	// Docker watches the Docker Engine at DockerHost ("" : $DOCKER_HOST,
	// else the default socket).
	Docker     bool
	DockerHost string
	// Containerd watches containerd at ContainerdAddress in
	// ContainerdNamespace ("" : every namespace).
	Containerd                             bool
	ContainerdAddress, ContainerdNamespace string
	// Podman watches the Podman service at PodmanHost.
	Podman     bool
	PodmanHost string
}

func (c WatchConfig) enabled() bool { return c.Docker || c.Containerd || c.Podman }

// Heartbeat of a watching host: it records that it is alive every
// heartbeatInterval, and is stale when not heard of for staleAfter.
const (
	heartbeatInterval = 30 * time.Second
	staleAfter        = 3 * time.Minute
)

// HostQueue is the queue of the scans of host's local images: only the
// process watching that host's engines works it, as only it reaches them.
// River allows lower-case letters and digits separated by single hyphens
// or underscores, up to 64 characters; a hash of the name keeps two names
// that read the same in those letters apart.
func HostQueue(host string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(host) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			if b.Len() >= 40 {
				break
			}
		} else {
			dash = true
		}
	}
	sum := sha256.Sum256([]byte(host))
	q := "host-"
	if b.Len() > 0 {
		q += b.String() + "-"
	}
	return q + hex.EncodeToString(sum[:4])
}

// engineWatch follows one engine of this host: it queues a scan of each
// image that appears and keeps the image's references in the store in
// step with the engine's names for it.
type engineWatch struct {
	s         *Server
	w         watch.Watcher
	engine    string // watch.EngineDocker, ...: also the store's source
	namespace string // containerd's namespace watched ("" : all)

	mu sync.Mutex
	// images are the engine's images as last reported, by key.
	images map[string]watch.Image
	// gone are images removed before their scan finished.
	gone map[string]watch.Image
	// digests are the scanned images' digests in the store, by key.
	digests map[string]string
}

func imageKey(namespace, id string) string { return namespace + "\x00" + id }

// newWatches opens a watcher of each engine cfg names.
func newWatches(s *Server) ([]*engineWatch, error) {
	c := s.cfg.Watch
	onError := watch.OnError(func(err error, retryIn time.Duration) {
		s.log.Warn("watching local images", "error", err, "retry_in", retryIn)
	})
	var out []*engineWatch
	add := func(engine, namespace string, w watch.Watcher, err error) error {
		if err != nil {
			return fmt.Errorf("watching %s: %w", engine, err)
		}
		out = append(out, &engineWatch{s: s, w: w, engine: engine, namespace: namespace,
			images: map[string]watch.Image{}, gone: map[string]watch.Image{}, digests: map[string]string{}})
		return nil
	}
	if c.Docker {
		w, err := watch.Docker(c.DockerHost, onError)
		if err := add(watch.EngineDocker, "", w, err); err != nil {
			return nil, err
		}
	}
	if c.Containerd {
		w, err := watch.Containerd(c.ContainerdAddress, c.ContainerdNamespace, onError)
		if err := add(watch.EngineContainerd, c.ContainerdNamespace, w, err); err != nil {
			return nil, err
		}
	}
	if c.Podman {
		w, err := watch.Podman(c.PodmanHost, onError)
		if err := add(watch.EnginePodman, "", w, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// watchEngines records this host, keeps its heartbeat and follows its
// engines until ctx ends.
func (s *Server) watchEngines(ctx context.Context) {
	var names []string
	for _, e := range s.watches {
		names = append(names, e.w.Name())
	}
	var wg sync.WaitGroup
	for _, e := range s.watches {
		wg.Go(func() { e.run(ctx) })
	}
	if err := s.store.StartHost(ctx, s.cfg.HostName, names); err != nil {
		s.log.Error("recording the host", "error", err)
	}
	tick := time.NewTicker(heartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
			if err := s.store.SeeHost(ctx, s.cfg.HostName); err != nil && ctx.Err() == nil {
				s.log.Warn("host heartbeat", "error", err)
			}
		}
	}
}

// run loads what the store knows of the engine's images on this host and
// watches from there, so that what changed while the server was down is
// reported too.
func (e *engineWatch) run(ctx context.Context) {
	for {
		known, err := e.load(ctx)
		if err == nil {
			e.s.log.Info("watching local images", "engine", e.w.Name(), "known", len(known))
			err = e.w.WatchFrom(ctx, known, func(ev watch.Event) { e.handle(ctx, ev) })
		}
		if ctx.Err() != nil {
			return
		}
		e.s.log.Error("watching local images", "engine", e.w.Name(), "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
	}
}

// load returns the images the store holds live references of for this
// engine and host. References whose image ID no scan on this host
// recorded cannot be followed and are marked removed.
func (e *engineWatch) load(ctx context.Context) ([]watch.Image, error) {
	host := e.s.cfg.HostName
	his, err := e.s.store.HostImages(ctx, e.engine, host)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var known []watch.Image
	var keep []string
	for _, hi := range his {
		if hi.Input == "" {
			continue
		}
		ns := hi.Namespace
		if ns == "" {
			ns = e.namespace // recorded before references had namespaces
		}
		im := watch.Image{Engine: e.engine, Namespace: ns, ID: hi.Input, Input: hi.Input}
		for _, r := range hi.Refs {
			switch {
			case r.Repository == "":
			case r.Tag == "":
				im.Refs = append(im.Refs, r.Repository)
			default:
				im.Refs = append(im.Refs, r.Repository+":"+r.Tag)
			}
		}
		k := imageKey(im.Namespace, im.ID)
		e.images[k], e.digests[k] = im, hi.Digest
		known = append(known, im)
		keep = append(keep, hi.Digest)
	}
	if _, err := e.s.store.RemoveRefs(ctx, e.engine, host, keep); err != nil {
		return nil, err
	}
	return known, nil
}

// handle acts on one change of the engine: a new image is queued for a
// scan, a renamed one has its references follow, a removed one has them
// marked removed.
func (e *engineWatch) handle(ctx context.Context, ev watch.Event) {
	im := ev.Image
	k := imageKey(im.Namespace, im.ID)
	log := e.s.log.With("engine", e.w.Name(), "image", im.ID, "refs", im.Refs)
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	switch digest, scanned := e.digests[k]; {
	case ev.Kind == watch.Removed:
		delete(e.images, k)
		if !scanned {
			e.gone[k] = im
			break
		}
		delete(e.digests, k)
		log.Info("image removed", "digest", digest)
		err = e.removeRefs(ctx, digest, e.refs(im))
	case scanned:
		old := e.images[k]
		e.images[k] = im
		log.Info("image names changed", "digest", digest)
		err = e.follow(ctx, digest, old, im)
	case ev.Changed:
		e.images[k] = im // the scan under way records the names it finds
	default:
		e.images[k] = im
		delete(e.gone, k)
		_, err = e.s.jobs.Insert(ctx, ScanArgs{Image: im.Input, Source: im.Engine, Engine: im.Host, Namespace: im.Namespace, Reason: "watch"},
			&river.InsertOpts{Queue: HostQueue(e.s.cfg.HostName)})
		if err == nil {
			log.Info("image queued for a scan")
		}
	}
	if err != nil && ctx.Err() == nil {
		log.Error("recording a local image change", "error", err)
	}
}

// scanned records where the image a watch job scanned is: under its
// names on this host, marked removed if it left the engine meanwhile.
func (e *engineWatch) scanned(ctx context.Context, a ScanArgs, digest string) error {
	k := imageKey(a.Namespace, a.Image)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.digests[k] = digest
	if im, ok := e.images[k]; ok {
		return e.follow(ctx, digest, watch.Image{}, im)
	}
	if im, ok := e.gone[k]; ok {
		delete(e.gone, k)
		delete(e.digests, k)
		refs := e.refs(im)
		for _, r := range refs {
			if err := e.s.store.SeeRef(ctx, digest, r); err != nil {
				return err
			}
		}
		return e.removeRefs(ctx, digest, refs)
	}
	return nil
}

// follow records im's references and marks removed those old had that im
// no longer has.
func (e *engineWatch) follow(ctx context.Context, digest string, old, im watch.Image) error {
	now := e.refs(im)
	for _, r := range now {
		if err := e.s.store.SeeRef(ctx, digest, r); err != nil {
			return err
		}
	}
	var gone []store.Ref
	if old.ID != "" {
		for _, r := range e.refs(old) {
			if !slices.Contains(now, r) {
				gone = append(gone, r)
			}
		}
	}
	return e.removeRefs(ctx, digest, gone)
}

func (e *engineWatch) removeRefs(ctx context.Context, digest string, refs []store.Ref) error {
	var errs []error
	for _, r := range refs {
		errs = append(errs, e.s.store.RemoveRef(ctx, digest, r))
	}
	return errors.Join(errs...)
}

// refs are the store's references of im on this host: one per name, or
// one without a name for an untagged image.
func (e *engineWatch) refs(im watch.Image) []store.Ref {
	host := e.s.cfg.HostName
	if len(im.Refs) == 0 {
		return []store.Ref{{Source: e.engine, Host: host, Namespace: im.Namespace}}
	}
	out := make([]store.Ref, 0, len(im.Refs))
	for _, n := range im.Refs {
		r := refOf(e.engine, host, n)
		r.Namespace = im.Namespace
		out = append(out, *r)
	}
	return out
}

// left tells whether the image a watch job names left the engine before
// it could be scanned; it is then forgotten.
func (e *engineWatch) left(a ScanArgs) bool {
	k := imageKey(a.Namespace, a.Image)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.images[k]; ok {
		return false
	}
	delete(e.gone, k)
	return true
}

// watchLeft tells whether the image of a failed watch job left its engine:
// the scan is then not retried (the image comes back as a new one if it
// is loaded again).
func (s *Server) watchLeft(a ScanArgs) bool {
	for _, e := range s.watches {
		if e.engine == a.Source {
			return e.left(a)
		}
	}
	return false
}

// watchScanned hands a finished watch job's digest to its engine's watch.
func (s *Server) watchScanned(ctx context.Context, a ScanArgs, digest string) error {
	for _, e := range s.watches {
		if e.engine == a.Source {
			return e.scanned(ctx, a, digest)
		}
	}
	return nil
}
