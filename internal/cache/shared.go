package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/customs-scanner/customs/internal/layer"
)

// Shared is a layer cache that several processes share (the server's
// database, see internal/store). Its entries are the bytes of the disk
// entries (gzip JSON of a layer's result), under the same keys. Claims
// let one process analyse a layer while the others wait for its result.
type Shared interface {
	// Get returns the entry stored under key, and whether there is one.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Put stores data under key and ends every claim on key.
	Put(ctx context.Context, key string, data []byte) error
	// Claim makes owner the one analysing key for lease, unless another
	// owner holds a claim on it that has not expired; it reports whether
	// owner holds the claim now. Claiming again as the same owner renews
	// the lease.
	Claim(ctx context.Context, key, owner string, lease time.Duration) (bool, error)
	// Release ends owner's claim on key, if it holds one.
	Release(ctx context.Context, key, owner string) error
}

// MaxSharedBytes bounds an entry of a shared cache; a larger layer result
// is kept on the local disk only.
const MaxSharedBytes = 256 << 20

// Defaults of a Tier.
const (
	DefaultLease   = 2 * time.Minute
	DefaultMaxWait = 30 * time.Minute
)

// Tier is a layer cache in two tiers: the local disk in front of a shared
// cache. Lookups try the disk, then the shared cache (filling the disk on
// a hit); results are written to both. It is safe for concurrent use.
type Tier struct {
	disk   *Dir
	shared Shared
	owner  string
	claims atomic.Int64
	// Lease is how long a claim lasts without renewal (DefaultLease when
	// 0). A claim is renewed every third of it while its layer is
	// analysed, so only a process that stopped loses it.
	Lease time.Duration
	// MaxWait bounds the wait for another process's claim on a layer
	// (DefaultMaxWait when 0); after it the layer is analysed anyway.
	MaxWait time.Duration
}

// NewTier returns disk (nil: no local cache) in front of shared. worker
// names this process in claims; a random suffix makes each Tier an owner
// of its own, and a number each of its claims (two scans of one process
// may reach the same layer at once too).
func NewTier(disk *Dir, shared Shared, worker string) *Tier {
	if disk == nil {
		disk = &Dir{}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Tier{disk: disk, shared: shared, owner: worker + "/" + hex.EncodeToString(b[:])}
}

// Owner is the prefix of this Tier's claims' owners: worker/random/n.
func (t *Tier) Owner() string { return t.owner }

// Get returns the layer stored under key on the disk or, failing that, in
// the shared cache, and whether there was one.
func (t *Tier) Get(ctx context.Context, key string) (*layer.Walked, bool) {
	if w, ok := t.disk.Get(key); ok {
		return w, true
	}
	return t.sharedGet(ctx, key)
}

// sharedGet looks key up in the shared cache and keeps a hit on the disk.
// An entry that cannot be read or decoded counts as missing: it only
// costs an analysis.
func (t *Tier) sharedGet(ctx context.Context, key string) (*layer.Walked, bool) {
	b, ok, err := t.shared.Get(ctx, key)
	if err != nil || !ok {
		return nil, false
	}
	var w layer.Walked
	if decode(bytes.NewReader(b), &w) != nil {
		return nil, false
	}
	_ = t.disk.write(t.disk.path("layers", key), b) // a disk that cannot be written only costs a lookup
	return &w, true
}

// Put stores w under key on the disk and in the shared cache, which ends
// the claims on key.
func (t *Tier) Put(ctx context.Context, key string, w *layer.Walked) error {
	b, err := encode(w)
	if err != nil {
		return err
	}
	err = t.disk.write(t.disk.path("layers", key), b)
	if len(b) > MaxSharedBytes {
		return errors.Join(err, fmt.Errorf("layer result of %d bytes is larger than the shared cache takes (%d)", len(b), MaxSharedBytes))
	}
	return errors.Join(err, t.shared.Put(ctx, key, b))
}

// Acquire returns the result of another process for key, or a claim on
// key for the caller to analyse the layer under (nil, nil when the claim
// could not be had in MaxWait or the shared cache failed: analyse without
// one). While another process holds the claim, Acquire polls with backoff
// for its result, and takes the claim over when its lease expires.
func (t *Tier) Acquire(ctx context.Context, key string) (*layer.Walked, *Claim) {
	lease, maxWait := t.Lease, t.MaxWait
	if lease <= 0 {
		lease = DefaultLease
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	owner := t.owner + "/" + strconv.FormatInt(t.claims.Add(1), 10)
	deadline := time.Now().Add(maxWait)
	delay := 50 * time.Millisecond
	for {
		if w, ok := t.sharedGet(ctx, key); ok {
			return w, nil
		}
		got, err := t.shared.Claim(ctx, key, owner, lease)
		if err != nil {
			return nil, nil
		}
		if got {
			// The holder may have stored its result just before its
			// claim ended.
			if w, ok := t.sharedGet(ctx, key); ok {
				_ = t.shared.Release(ctx, key, owner)
				return w, nil
			}
			return nil, t.hold(ctx, key, owner, lease)
		}
		wait := min(delay, time.Until(deadline))
		if wait <= 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// Claim is a Tier's claim on a layer, renewed until Release.
type Claim struct {
	shared     Shared
	key, owner string
	stop, done chan struct{}
}

func (t *Tier) hold(ctx context.Context, key, owner string, lease time.Duration) *Claim {
	c := &Claim{shared: t.shared, key: key, owner: owner, stop: make(chan struct{}), done: make(chan struct{})}
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer close(c.done)
		tick := time.NewTicker(lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				_, _ = t.shared.Claim(ctx, key, owner, lease) // a missed renewal may let another process analyse the layer too
			}
		}
	}()
	return c
}

// Release stops renewing the claim and ends it, so that processes waiting
// for the layer analyse it themselves when no result was stored. A nil
// Claim does nothing.
func (c *Claim) Release(ctx context.Context) {
	if c == nil {
		return
	}
	close(c.stop)
	<-c.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = c.shared.Release(ctx, c.key, c.owner) // the lease ends it anyway
}
