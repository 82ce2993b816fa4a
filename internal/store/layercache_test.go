package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/customs-scanner/customs/internal/cache"
	"github.com/customs-scanner/customs/internal/layer"
)

var _ cache.Shared = (*LayerCache)(nil)

func TestLayerCache(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		c := s.LayerCache()
		if _, ok, err := c.Get(ctx, "k1"); ok || err != nil {
			t.Fatalf("empty cache: %v %v", ok, err)
		}
		data := []byte("\x1f\x8b entry \x00\xff")
		if err := c.Put(ctx, "k1", data); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, ok, err := c.Get(ctx, "k1")
			if !ok || err != nil || !bytes.Equal(got, data) {
				t.Fatalf("get: %q %v %v", got, ok, err)
			}
		}
		if err := c.Put(ctx, "k1", data); err != nil {
			t.Fatal(err)
		}
		st, err := s.LayerCacheStats(ctx)
		if err != nil || st != (LayerCacheStats{Entries: 1, Bytes: int64(len(data)), Puts: 2, Hits: 2}) {
			t.Errorf("stats %+v %v", st, err)
		}
		if err := c.Put(ctx, "big", make([]byte, MaxLayerCacheBytes+1)); err == nil {
			t.Error("an entry over the limit was stored")
		}
		if err := c.Put(ctx, "", data); err == nil {
			t.Error("an empty key was accepted")
		}
	})
}

func TestLayerClaim(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		c := s.LayerCache()
		claim := func(owner string, lease time.Duration) bool {
			t.Helper()
			ok, err := c.Claim(ctx, "k", owner, lease)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim("a", time.Hour) || claim("b", time.Hour) {
			t.Fatal("a claim was not exclusive")
		}
		if !claim("a", 300*time.Millisecond) {
			t.Fatal("the holder could not renew its claim")
		}
		if claim("b", time.Hour) {
			t.Fatal("a renewed claim was taken")
		}
		time.Sleep(400 * time.Millisecond)
		if !claim("b", time.Hour) {
			t.Fatal("an expired claim was not taken over")
		}
		if claim("a", time.Hour) {
			t.Fatal("the expired holder took its claim back")
		}
		if err := c.Release(ctx, "k", "a"); err != nil {
			t.Fatal(err)
		}
		if claim("c", time.Hour) {
			t.Fatal("a release by a former holder ended the claim")
		}
		if err := c.Release(ctx, "k", "b"); err != nil {
			t.Fatal(err)
		}
		if !claim("c", time.Hour) {
			t.Fatal("a released claim could not be had")
		}
		if st, err := s.LayerCacheStats(ctx); err != nil || st.Claims != 1 {
			t.Errorf("stats %+v %v", st, err)
		}
		if err := c.Put(ctx, "k", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if st, err := s.LayerCacheStats(ctx); err != nil || st.Claims != 0 {
			t.Errorf("a put left the claim: %+v %v", st, err)
		}
	})
}

func tier(t *testing.T, s *Store, worker string) (*cache.Tier, *cache.Dir) {
	t.Helper()
	d, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cache.NewTier(d, s.LayerCache(), worker), d
}

const layerKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestTierTakesOverExpiredClaim: the claim of a worker that stopped ends
// with its lease, and another takes it over.
func TestTierTakesOverExpiredClaim(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const lease = 500 * time.Millisecond
		if ok, err := s.LayerCache().Claim(ctx, layerKey, "killed", lease); !ok || err != nil {
			t.Fatal(ok, err)
		}
		tr, _ := tier(t, s, "b")
		start := time.Now()
		w, claim := tr.Acquire(ctx, layerKey)
		if took := time.Since(start); w != nil || claim == nil || took < lease-100*time.Millisecond || took > 10*time.Second {
			t.Fatalf("acquire after %s: %v %v", took, w, claim)
		}
		if err := tr.Put(ctx, layerKey, &layer.Walked{DiffID: "sha256:1"}); err != nil {
			t.Fatal(err)
		}
		claim.Release(ctx)
		if st, err := s.LayerCacheStats(ctx); err != nil || st.Entries != 1 || st.Puts != 1 || st.Claims != 0 {
			t.Errorf("stats %+v %v", st, err)
		}
	})
}

// TestTierWaitsForHolder: a worker reaching a claimed layer waits for the
// holder's result while the holder renews its claim, and gives up after
// MaxWait.
func TestTierWaitsForHolder(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a, _ := tier(t, s, "a")
		a.Lease = 300 * time.Millisecond
		w, claim := a.Acquire(ctx, layerKey)
		if w != nil || claim == nil {
			t.Fatalf("first acquire: %v %v", w, claim)
		}
		b, bdisk := tier(t, s, "b")
		b.MaxWait = time.Second // beyond a's lease: only renewals keep the claim a's
		if w, c := b.Acquire(ctx, layerKey); w != nil || c != nil {
			t.Fatalf("acquired a claim held and renewed: %v %v", w, c)
		}
		b.MaxWait = 0
		got := make(chan *layer.Walked)
		go func() {
			w, c := b.Acquire(ctx, layerKey)
			c.Release(ctx)
			got <- w
		}()
		time.Sleep(200 * time.Millisecond)
		if err := a.Put(ctx, layerKey, &layer.Walked{DiffID: "sha256:2"}); err != nil {
			t.Fatal(err)
		}
		claim.Release(ctx)
		select {
		case w := <-got:
			if w == nil || w.DiffID != "sha256:2" {
				t.Fatalf("waiter got %+v", w)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the waiter did not see the holder's result")
		}
		if w, ok := bdisk.Get(layerKey); !ok || w.DiffID != "sha256:2" {
			t.Error("a shared hit was not kept on the local disk")
		}
		if st, err := s.LayerCacheStats(ctx); err != nil || st.Puts != 1 || st.Claims != 0 {
			t.Errorf("stats %+v %v", st, err)
		}
	})
}
