package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// DBUpdateArgs is a scheduled `customs db update` into the store.
type DBUpdateArgs struct{}

// Kind names the job kind.
func (DBUpdateArgs) Kind() string { return "db_update" }

// dbUpdateWorker runs scheduled database updates.
type dbUpdateWorker struct {
	river.WorkerDefaults[DBUpdateArgs]
	s *Server
}

// Work does what `customs db update --data-dir/--database` does: the
// working copy takes the stored database, the OSV exports are downloaded
// and applied, and the result is published to the store. The server then
// follows it like any published database (and re-matches what changed).
func (w *dbUpdateWorker) Work(ctx context.Context, job *river.Job[DBUpdateArgs]) error {
	s := w.s
	started := time.Now()
	dir := filepath.Join(s.cfg.DataDir, "db-update")
	opt := s.cfg.DBUpdate
	gen, err := s.store.BuildVulnDB(ctx, dir, func() error {
		_, err := vulndb.Update(ctx, dir, opt)
		return err
	})
	if errors.Is(err, store.ErrVulnDBOutdated) {
		return fmt.Errorf("%w: another update was published meanwhile; the next attempt builds on it", err)
	}
	if err != nil {
		return err
	}
	s.log.Info("vulnerability database updated", "job", job.ID, "generation", gen, "seconds", time.Since(started).Seconds())
	return s.reloadVulnDB(ctx)
}

// addEventJobs registers the workers of re-matches, deliveries and
// scheduled database updates, their queue, and the update's schedule.
func (s *Server) addEventJobs(cfg *river.Config) error {
	for _, add := range []func(*river.Workers) error{
		func(ws *river.Workers) error { return river.AddWorkerSafely(ws, &rematchWorker{s: s}) },
		func(ws *river.Workers) error { return river.AddWorkerSafely(ws, &notifyWorker{s: s}) },
		func(ws *river.Workers) error { return river.AddWorkerSafely(ws, &dbUpdateWorker{s: s}) },
	} {
		if err := add(cfg.Workers); err != nil {
			return err
		}
	}
	cfg.Queues[QueueRematch] = river.QueueConfig{MaxWorkers: 2}
	if every := s.cfg.DBUpdateEvery; every > 0 && s.storedVulnDB() {
		// Periodic jobs are queued by the elected leader only, and unique
		// per period: one process updates.
		cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) {
				return DBUpdateArgs{}, &river.InsertOpts{Queue: QueueRematch, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: every}}
			}, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	return nil
}
