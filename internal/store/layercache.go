package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MaxLayerCacheBytes bounds an entry of the shared layer cache.
const MaxLayerCacheBytes = 256 << 20

// maxKey bounds a layer cache key (cache keys are 64 hex digits).
const maxKey = 256

// LayerCache is the layer analysis cache the workers share
// (cache.Shared): a layer analysed by one worker is not analysed again by
// another.
type LayerCache struct{ s *Store }

// LayerCache returns the store's shared layer cache.
func (s *Store) LayerCache() *LayerCache { return &LayerCache{s: s} }

func checkKey(key string) error {
	if key == "" || len(key) > maxKey {
		return fmt.Errorf("layer cache key of %d bytes", len(key))
	}
	return nil
}

// Get returns the entry stored under key, and whether there is one; a hit
// is counted.
func (c *LayerCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var data []byte
	err := c.s.QueryRow(ctx, `SELECT data FROM layer_cache WHERE cache_key = ?`, key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := c.s.Exec(ctx, `UPDATE layer_cache SET hits = hits + 1, last_used = ? WHERE cache_key = ?`, Millis(now()), key); err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// Put stores data under key (counting the put) and ends every claim on
// key. Entries over MaxLayerCacheBytes are refused.
func (c *LayerCache) Put(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(data) > MaxLayerCacheBytes {
		return fmt.Errorf("layer cache entry of %d bytes is over the limit of %d", len(data), MaxLayerCacheBytes)
	}
	t := Millis(now())
	return c.s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO layer_cache(cache_key, data, size, created, last_used, puts, hits) VALUES(?, ?, ?, ?, ?, 1, 0)
			ON CONFLICT(cache_key) DO UPDATE SET data = excluded.data, size = excluded.size, last_used = excluded.last_used, puts = layer_cache.puts + 1`,
			key, data, len(data), t, t); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM layer_claim WHERE cache_key = ?`, key)
		return err
	})
}

// Claim makes owner the one analysing key for lease unless another owner
// holds an unexpired claim, and reports whether owner holds it now. The
// same owner claiming again renews the lease.
func (c *LayerCache) Claim(ctx context.Context, key, owner string, lease time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if owner == "" || lease <= 0 {
		return false, fmt.Errorf("layer claim by %q for %s", owner, lease)
	}
	t := now()
	res, err := c.s.Exec(ctx, `INSERT INTO layer_claim(cache_key, owner, claimed, expires) VALUES(?, ?, ?, ?)
		ON CONFLICT(cache_key) DO UPDATE SET owner = excluded.owner, claimed = excluded.claimed, expires = excluded.expires
		WHERE layer_claim.owner = excluded.owner OR layer_claim.expires <= excluded.claimed`,
		key, owner, Millis(t), Millis(t.Add(lease)))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Release ends owner's claim on key, if it holds one.
func (c *LayerCache) Release(ctx context.Context, key, owner string) error {
	_, err := c.s.Exec(ctx, `DELETE FROM layer_claim WHERE cache_key = ? AND owner = ?`, key, owner)
	return err
}

// LayerCacheStats describes the shared layer cache.
type LayerCacheStats struct {
	// Entries counts the stored layers and Bytes their size.
	Entries, Bytes int64
	// Puts counts the results stored (an entry stored twice was analysed
	// twice), Hits the lookups answered.
	Puts, Hits int64
	// Claims counts the layers being analysed now (or whose claimant
	// stopped before its lease expired).
	Claims int64
}

// LayerCacheStats returns the figures of the shared layer cache.
func (s *Store) LayerCacheStats(ctx context.Context) (LayerCacheStats, error) {
	var st LayerCacheStats
	err := s.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(puts), 0), COALESCE(SUM(hits), 0), (SELECT COUNT(*) FROM layer_claim) FROM layer_cache`).
		Scan(&st.Entries, &st.Bytes, &st.Puts, &st.Hits, &st.Claims)
	return st, err
}
