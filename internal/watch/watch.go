// Package watch follows the images of a local store (a Docker Engine,
// containerd, Podman) for the customs server: it lists what the store holds
// and reports each image that appears, changes its names or goes away.
//
// # Identity
//
// An image is identified by its ID within its store (and, for containerd,
// its namespace): Docker's and Podman's image ID, containerd's target
// (manifest or index) digest. The content behind an ID never changes, so
// [Image.Input] with [Image.SourceOptions] scans exactly that image even if
// its tags move meanwhile.
//
// # Events
//
// [Watcher.Watch] subscribes to the store's image events, then lists the
// store and reports every image it holds as [Added]. From then on it keeps
// a picture of the store (ID → names) and, whenever the picture may have
// changed, lists the store again and reports the difference:
//
//   - [Added] with Changed false: an ID not in the picture (a pull, load,
//     import, build, commit);
//   - [Added] with Changed true: an ID in the picture whose Refs or
//     RepoDigests differ (a tag, an untag that leaves the image in place, a
//     push); the Image carries the names it has now;
//   - [Removed]: an ID no longer in the store; the Image is the one last
//     reported.
//
// [Watcher.WatchFrom] starts from a picture the caller kept (the images it
// saw before it stopped) instead of an empty one, so its first listing
// reports only what changed since: images removed meanwhile as Removed.
//
// Events only tell the watcher when to list again; what it reports always
// comes from a listing, so it does not depend on how each engine names an
// image in its events. Events are coalesced: a burst (a `docker load` of
// many images, a tag followed by an untag) is listed once, when no event has
// come for 200 ms or at the latest 2 s after the burst's first event, and
// each image is reported at most once per listing, with its names at that
// moment: a tag and its untag within one burst report nothing. Events are
// never queued: their reader keeps one "list again" flag, so a burst of any
// size costs one listing. The store is also listed 2 s after each
// subscription (an event the engine sent before it had registered the
// subscription is not lost) and every 5 minutes (a change that no image
// event announces, such as an untagged BuildKit result, is seen then).
//
// # Failures
//
// When the event stream breaks or the engine cannot be reached, Watch waits
// (from 250 ms, doubling up to 30 s; [OnError] hears of each failure),
// subscribes again, lists again and reports what changed meanwhile against
// its picture: images added and removed while the engine was away are
// reported like any others, and nothing is reported twice.
//
// # Limits
//
// A listing holds at most 100,000 images, and at most 1,000 Refs and 1,000
// RepoDigests are kept per image (the first in sorted order). The engines'
// answers are decoded by their client libraries (containerd's gRPC messages
// are limited to 16 MiB); what the watcher keeps is bounded by the limits
// above, and events are never buffered.
package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/customs-scanner/customs/internal/source"
)

// Engines, as Image.Engine names them: the same words as the source kinds.
const (
	EngineDocker     = source.KindDocker
	EngineContainerd = source.KindContainerd
	EnginePodman     = source.KindPodman
)

// Image is one image of a local store.
type Image struct {
	// Engine is EngineDocker, EngineContainerd or EnginePodman.
	Engine string
	// Host is the store's address: the Engine API host for Docker and
	// Podman, containerd's socket.
	Host string
	// Namespace is the containerd namespace holding the image ("" for
	// Docker and Podman).
	Namespace string
	// ID identifies the image in its store: Docker's and Podman's image ID
	// (the configuration digest, or the manifest or index digest with
	// Docker's containerd image store), containerd's target digest (the
	// manifest or index the records point to), as "sha256:...".
	ID string
	// Refs are the image's names (repository:tag), sorted; empty for a
	// dangling image.
	Refs []string
	// RepoDigests are the registry references the store recorded for the
	// image (repository@sha256:...), sorted.
	RepoDigests []string
	// Input is what the scan pipeline is given to scan exactly this image:
	// its ID, which Docker, Podman and containerd (through
	// source.Options.Source) resolve to this content whatever its tags do.
	// Scan it with the options SourceOptions returns.
	Input string
}

// SourceOptions returns base with the source pinned to this image's store:
// Source set to the engine's kind and the engine's address (and, for
// containerd, namespace) set, so that source.Open(ctx, im.Input, &opts)
// opens this image from this store and from no other. Everything else in
// base (platform, registry credentials) is kept.
func (im Image) SourceOptions(base source.Options) source.Options {
	base.Source = im.Engine
	switch im.Engine {
	case EngineDocker:
		base.DockerHost = im.Host
	case EnginePodman:
		base.PodmanHost = im.Host
	case EngineContainerd:
		base.ContainerdAddress, base.ContainerdNamespace = im.Host, im.Namespace
	}
	return base
}

// byKey orders images by namespace and ID.
func byKey(a, b Image) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ID, b.ID))
}

// key identifies the image in a watcher's picture of the store.
func (im Image) key() string { return im.Namespace + "\x00" + im.ID }

// sameNames tells whether a and b have the same Refs and RepoDigests.
func sameNames(a, b Image) bool {
	return slices.Equal(a.Refs, b.Refs) && slices.Equal(a.RepoDigests, b.RepoDigests)
}

// EventKind says what happened to an image.
type EventKind string

// Kinds of event.
const (
	// Added: the image is new to the watcher, or its names changed
	// (Event.Changed).
	Added EventKind = "added"
	// Removed: the image's ID is no longer in the store.
	Removed EventKind = "removed"
)

// Event is one change of a store.
type Event struct {
	Kind  EventKind
	Image Image
	// Changed is true for an Added event of an image already in the
	// watcher's picture (reported before, or given to WatchFrom): only its
	// Refs or RepoDigests changed, its content did not, so a scanner keyed
	// by ID need not scan it again.
	Changed bool
}

// Watcher lists a store's images and reports changes.
type Watcher interface {
	// Name says which store this is, for logs ("docker at unix:///...").
	Name() string
	// List returns the images the store holds now, sorted by namespace
	// and ID.
	List(ctx context.Context) ([]Image, error)
	// Watch reports every image the store holds as Added, then every
	// change (see the package documentation), calling fn one event at a
	// time from Watch's own goroutine, until ctx ends; it then returns
	// ctx's error. It survives engine restarts and broken event streams by
	// reconnecting with backoff, re-listing and reporting what changed
	// meanwhile. fn should return quickly (queue the work): the next
	// listing waits for it.
	Watch(ctx context.Context, fn func(Event)) error
	// WatchFrom is Watch starting from known, the images the caller last
	// saw in this store (as this watcher reported them): its first
	// listing reports the images of known no longer in the store as
	// Removed, those whose names changed as Added with Changed set, those
	// new as Added, and nothing for the others.
	WatchFrom(ctx context.Context, known []Image, fn func(Event)) error
}

// Option adjusts a Watcher.
type Option func(*options)

type options struct {
	onError func(err error, retryIn time.Duration)
}

// OnError has fn called with each failure Watch recovers from (the engine
// unreachable, the event stream broken, a listing failed) and the delay
// before it tries again. By default such failures are retried silently.
func OnError(fn func(err error, retryIn time.Duration)) Option {
	return func(o *options) { o.onError = fn }
}

func buildOptions(opts []Option) options {
	o := options{onError: func(error, time.Duration) {}}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Timing and limits of a watch.
const (
	// settleDelay is how long the events of a burst must stay quiet before
	// the store is listed.
	settleDelay = 200 * time.Millisecond
	// maxSettle is the longest a burst delays its listing.
	maxSettle = 2 * time.Second
	// resyncInterval is how often the store is listed without an event.
	resyncInterval = 5 * time.Minute
	// minBackoff and maxBackoff bound the wait before reconnecting.
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
	// listTimeout bounds one listing.
	listTimeout = time.Minute
	// maxImages is the most images a listing accepts.
	maxImages = 100_000
	// maxNames is the most Refs (and RepoDigests) kept per image.
	maxNames = 1000
)

// store is what a watch needs from an engine.
type store interface {
	// list returns the images the store holds.
	list(ctx context.Context) ([]Image, error)
	// subscribe starts following the store's image events: changed is
	// called (it never blocks) for each event that may change the store,
	// until ctx ends or the stream breaks; the returned channel then
	// receives why (a stream that cannot be opened ends at once).
	// subscribe fails when it cannot even start.
	subscribe(ctx context.Context, changed func()) (<-chan error, error)
}

// errTooMany fails the listing of a store past maxImages.
var errTooMany = fmt.Errorf("the store holds more than the %d images a watch follows", maxImages)

// listStore lists st: each image's names sorted and bounded, the images
// sorted by namespace and ID.
func listStore(ctx context.Context, st store) ([]Image, error) {
	ims, err := st.list(ctx)
	if err != nil {
		return nil, err
	}
	if len(ims) > maxImages {
		return nil, errTooMany
	}
	for i := range ims {
		ims[i] = tidy(ims[i])
	}
	slices.SortFunc(ims, byKey)
	ims = slices.CompactFunc(ims, func(a, b Image) bool { return a.key() == b.key() })
	return ims, nil
}

// watcher runs the watch loop over a store.
type watcher struct {
	st    store
	opts  options
	known map[string]Image // the picture of the store last reported
}

// tidy sorts and bounds an image's names.
func tidy(im Image) Image {
	for _, names := range []*[]string{&im.Refs, &im.RepoDigests} {
		*names = slices.Clone(*names)
		slices.Sort(*names)
		*names = slices.Compact(*names)
		if len(*names) > maxNames {
			*names = (*names)[:maxNames]
		}
	}
	return im
}

// run is WatchFrom: sessions (subscribe, list, follow) until ctx ends, with
// backoff between them.
func run(ctx context.Context, st store, opts options, known []Image, fn func(Event)) error {
	w := &watcher{st: st, opts: opts, known: make(map[string]Image, len(known))}
	for _, im := range known {
		w.known[im.key()] = tidy(im)
	}
	backoff := minBackoff
	for {
		err := w.session(ctx, fn, func() { backoff = minBackoff })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.opts.onError(err, backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session subscribes, lists and follows the events until the stream breaks
// or ctx ends. connected is called once the first listing succeeded.
func (w *watcher) session(ctx context.Context, fn func(Event), connected func()) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	ended, err := w.st.subscribe(sctx, func() {
		select {
		case changed <- struct{}{}:
		default: // a listing is already due
		}
	})
	if err != nil {
		return fmt.Errorf("subscribing to image events: %w", err)
	}
	if err := w.sync(sctx, fn); err != nil {
		return err
	}
	connected()
	// List once more when the subscription has surely settled: an event of
	// the moment between subscribing and the engine registering it is not
	// lost.
	settle := time.NewTimer(maxSettle)
	defer settle.Stop()
	var burst time.Time // first event of the burst not yet listed
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-ended:
			if err == nil {
				err = errors.New("the engine closed it")
			}
			return fmt.Errorf("image event stream: %w", err)
		case <-changed:
			now := time.Now()
			if burst.IsZero() {
				burst = now
			}
			settle.Reset(min(settleDelay, maxSettle-now.Sub(burst)))
		case <-settle.C:
			burst = time.Time{}
			if err := w.sync(sctx, fn); err != nil {
				return err
			}
		case <-resync.C:
			if err := w.sync(sctx, fn); err != nil {
				return err
			}
		}
	}
}

// sync lists the store and reports the difference with the last picture.
func (w *watcher) sync(ctx context.Context, fn func(Event)) error {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	ims, err := listStore(lctx, w.st)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	now := make(map[string]Image, len(ims))
	for _, im := range ims {
		now[im.key()] = im
	}
	var gone []Image
	for k, old := range w.known {
		if _, ok := now[k]; !ok {
			gone = append(gone, old)
		}
	}
	slices.SortFunc(gone, byKey)
	for _, im := range gone {
		delete(w.known, im.key())
		fn(Event{Kind: Removed, Image: im})
	}
	for _, im := range ims {
		old, ok := w.known[im.key()]
		if ok && sameNames(old, im) {
			continue
		}
		w.known[im.key()] = im
		fn(Event{Kind: Added, Image: im, Changed: ok})
	}
	return nil
}
