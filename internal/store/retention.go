package store

import (
	"context"
	"time"
)

// PruneHistory deletes the events and the verdict log entries recorded
// before cutoff, and returns how many of each it deleted. Images, their
// latest scans and the policy versions are not touched: only the history
// of what changed and what was decided grows without bound.
func (s *Store) PruneHistory(ctx context.Context, cutoff time.Time) (events, verdicts int64, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM event WHERE created < ?`, Millis(cutoff))
		if err != nil {
			return err
		}
		if events, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = tx.Exec(ctx, `DELETE FROM verdict_log WHERE at < ?`, Millis(cutoff))
		if err != nil {
			return err
		}
		verdicts, err = res.RowsAffected()
		return err
	})
	return events, verdicts, err
}

// PruneLayerCache deletes the least recently used entries of the shared
// layer cache until what remains holds at most maxBytes, and returns how
// many entries and bytes it deleted. An entry evicted is only analysed
// again, the next time a scan needs its layer.
func (s *Store) PruneLayerCache(ctx context.Context, maxBytes int64) (entries, bytes int64, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (
			SELECT size, SUM(size) OVER (ORDER BY last_used DESC, cache_key) AS running FROM layer_cache) ranked
			WHERE running > ?`, maxBytes).Scan(&entries, &bytes); err != nil || entries == 0 {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM layer_cache WHERE cache_key IN (
			SELECT cache_key FROM (SELECT cache_key, SUM(size) OVER (ORDER BY last_used DESC, cache_key) AS running FROM layer_cache) ranked
			WHERE running > ?)`, maxBytes)
		return err
	})
	return entries, bytes, err
}
