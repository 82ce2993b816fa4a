package server

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/pipeline"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/store"
)

// QueueRematch runs re-matches and notification deliveries: no registry
// is contacted, so they never wait behind scans.
const QueueRematch = "rematch"

// rematchBatch is how many images a re-match reads and stores at once.
const rematchBatch = 100

// RematchArgs is a re-match job: bring the findings of every live image's
// latest scan up to the vulnerability database generation Generation (or
// a later one) by matching its stored inventory against what changed,
// without contacting any registry, and record the differences as events.
//
// It is unique by Generation, in every state River keeps (completed
// included): however many workers notice the new generation, one job runs.
type RematchArgs struct {
	Generation int64 `json:"generation" river:"unique"`
	// Previous is the generation the worker that queued the job matched
	// against before (informational: each image is brought up from the
	// generation of its own latest scan).
	Previous int64 `json:"previous,omitempty"`
}

// Kind names the job kind.
func (RematchArgs) Kind() string { return "rematch" }

// InsertOpts queues re-matches on QueueRematch, once per generation.
func (RematchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRematch, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// queueRematch queues the re-match to the generation gen.
func (s *Server) queueRematch(ctx context.Context, gen, prev int64) {
	if gen == 0 {
		return
	}
	if _, err := s.jobs.Insert(ctx, RematchArgs{Generation: gen, Previous: prev}, nil); err != nil && ctx.Err() == nil {
		s.log.Warn("queue a re-match", "generation", gen, "error", err)
	}
}

// rematchWorker runs re-match jobs.
type rematchWorker struct {
	river.WorkerDefaults[RematchArgs]
	s *Server
}

// Work brings this worker to the store's newest database, then every
// live image whose latest scan is not current with it. A retry carries on
// where an attempt stopped: images already brought up are skipped.
func (w *rematchWorker) Work(ctx context.Context, job *river.Job[RematchArgs]) error {
	s := w.s
	started := time.Now()
	if err := s.reloadVulnDB(ctx); err != nil {
		return fmt.Errorf("vulnerability database: %w", err)
	}
	rm, err := s.pipe.Rematcher()
	if err != nil {
		return err
	}
	defer rm.Close()
	batch := fmt.Sprintf("rematch:%d", job.ID)
	st, err := s.rematchAll(ctx, rm, batch)
	s.log.Info("re-matched", "job", job.ID, "generation", rm.Generation(), "images", st.images, "read", st.read, "changed", st.changed,
		"events", st.events, "seconds", time.Since(started).Seconds(), "error", err)
	if err != nil {
		return err
	}
	return s.queueNotifications(ctx, batch)
}

// rematchStats counts what a re-match did: images brought up, reports
// read, images whose findings changed, events recorded.
type rematchStats struct {
	images, read, changed, events int
}

// rematchAll brings every live image not current with rm's generation up
// to it, recording events in batch.
func (s *Server) rematchAll(ctx context.Context, rm *pipeline.Rematcher, batch string) (rematchStats, error) {
	var st rematchStats
	after := ""
	for {
		page, err := s.store.StaleScans(ctx, rm.Generation(), after, rematchBatch)
		if err != nil || len(page) == 0 {
			return st, err
		}
		after = page[len(page)-1].Digest
		st.images += len(page)
		if err := s.rematchPage(ctx, rm, page, batch, &st); err != nil {
			return st, err
		}
	}
}

// rematchPage brings the latest scans of page up to rm's generation: the
// images whose findings change are stored in one transaction, the others
// marked current; the reports of images the changes cannot touch are not
// read. An image whose latest scan changed meanwhile is
// re-matched from that one.
func (s *Server) rematchPage(ctx context.Context, rm *pipeline.Rematcher, page []store.MatchedScan, batch string, st *rematchStats) error {
	for range 5 {
		var saves []store.Rematch
		var unchanged []store.MatchedScan
		read, err := s.scansToRead(ctx, rm, page)
		if err != nil {
			return err
		}
		for _, m := range page {
			if !read[m.Scan] {
				unchanged = append(unchanged, m)
				continue
			}
			st.read++
			r, err := s.rematchScan(ctx, rm, m, batch)
			if err != nil {
				return fmt.Errorf("re-match %s: %w", m.Digest, err)
			}
			if r == nil {
				unchanged = append(unchanged, m)
				continue
			}
			saves = append(saves, *r)
		}
		if err := s.store.MarkMatched(ctx, rm.Generation(), unchanged); err != nil {
			return err
		}
		ids, err := s.store.SaveRematches(ctx, saves)
		if err != nil {
			return err
		}
		var again []store.MatchedScan
		for i, id := range ids {
			if id != 0 {
				st.changed++
				st.events += len(saves[i].Events)
				continue
			}
			latest, err := s.store.LatestScan(ctx, saves[i].Of.Digest)
			if err != nil {
				return err
			}
			if latest.Generation != rm.Generation() {
				again = append(again, *latest)
			}
		}
		if len(again) == 0 {
			return nil
		}
		page = again
	}
	return fmt.Errorf("the latest scans of %d images kept changing", len(page))
}

// rematchScan re-matches the scan m against rm's database: the re-match
// to store, or nil when the findings stay as they are.
func (s *Server) rematchScan(ctx context.Context, rm *pipeline.Rematcher, m store.MatchedScan, batch string) (*store.Rematch, error) {
	rep, err := s.store.ScanReport(ctx, m.Digest, m.Scan)
	if err != nil {
		return nil, err
	}
	if !m.Indexed {
		if err := s.store.IndexPackages(ctx, m, rep); err != nil {
			return nil, err
		}
	}
	out, added, resolved, err := rm.Rematch(ctx, rep, m.Generation)
	if err != nil || out == nil {
		return nil, err
	}
	events := append(store.NewEvents(m.Digest, m.Name, store.EventNew, store.ReasonRematch, rm.Generation(), added),
		store.NewEvents(m.Digest, m.Name, store.EventResolved, store.ReasonRematch, rm.Generation(), resolved)...)
	return &store.Rematch{Of: m, Worker: s.cfg.HostName, Generation: rm.Generation(), Report: out, Events: events, Batch: batch}, nil
}

// currentFindings brings a fresh scan's report, matched against the
// database generation gen, up to the store's newest database when one was
// published during the scan, so that no stored scan is behind a re-match
// that already ran. It returns the report and its generation.
func (s *Server) currentFindings(ctx context.Context, rep *report.Report, gen int64) (*report.Report, int64) {
	if !s.storedVulnDB() {
		return rep, gen
	}
	cur, err := s.store.VulnDBGeneration(ctx)
	if err == nil && cur != gen && cur != 0 {
		err = s.reloadVulnDB(ctx)
	}
	if err != nil || cur == gen || cur == 0 {
		return rep, gen
	}
	rm, err := s.pipe.Rematcher()
	if err != nil {
		return rep, gen
	}
	defer rm.Close()
	out, _, _, err := rm.Rematch(ctx, rep, gen)
	switch {
	case err != nil:
		s.log.Warn("bring a scan to the newest vulnerability database", "digest", rep.Artifact.Digest, "error", err)
		return rep, gen
	case out != nil:
		rep = out
	}
	return rep, rm.Generation()
}
