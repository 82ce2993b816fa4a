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
