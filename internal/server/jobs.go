package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/customs-scanner/customs/internal/harbor"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/watch"
)

// Queues. Manual and push-triggered scans go to QueueScan, which has
// workers of its own, so scheduled sweeps (QueueSweep) never hold them up.
const (
	QueueScan  = "scan"
	QueueSweep = "sweep"
)

// jobClient is what the server uses of a River client, whichever driver
// it runs on.
type jobClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// activeStates are the states in which a job is not finished: a scan
// already waiting or running in one of them is not queued twice.
var activeStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

func newJobClient(s *Server) (jobClient, error) {
	cfg := &river.Config{
		Logger:               s.log.With("component", "queue"),
		MaxAttempts:          5,
		RetryPolicy:          retryPolicy{},
		RescueStuckJobsAfter: s.cfg.RescueAfter,
		ID:                   s.cfg.HostName + "-" + fmt.Sprint(time.Now().UnixNano()),
		// Scans bound themselves (--timeout); this backs that up, and a
		// job running longer than RescueAfter is one whose worker died.
		JobTimeout: s.cfg.jobTimeout(),
	}
	if s.pipe != nil {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, &scanWorker{s: s}); err != nil {
			return nil, err
		}
		if err := river.AddWorkerSafely(workers, &sweepWorker{s: s}); err != nil {
			return nil, err
		}
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{
			QueueScan:  {MaxWorkers: s.cfg.Workers},
			QueueSweep: {MaxWorkers: max(1, s.cfg.Workers/2)},
		}
		if s.cfg.Watch.enabled() || s.cfg.DockerAuthz.Socket != "" {
			cfg.Queues[HostQueue(s.cfg.HostName)] = river.QueueConfig{MaxWorkers: s.cfg.Workers}
		}
		if err := s.addEventJobs(cfg); err != nil {
			return nil, err
		}
	}
	if s.store.Dialect == store.Postgres {
		return river.NewClient(riverpgxv5.New(s.store.Pool), cfg)
	}
	cfg.PollOnly = true // SQLite has no LISTEN/NOTIFY
	cfg.FetchPollInterval = 500 * time.Millisecond
	return river.NewClient(riversqlite.New(s.store.QueueDB), cfg)
}

// retryPolicy retries a failed scan after 10 s, 40 s, 90 s, ... up to
// 10 minutes.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	n := time.Duration(len(job.Errors) + 1)
	return time.Now().Add(min(10*time.Second*n*n, 10*time.Minute))
}

// ScanArgs is a scan job: scan Image (a reference or local input).
//
// Scans are unique by the fields tagged river:"unique" (what is scanned
// and how), not by why they were queued: a push and a manual scan of the
// same image while one waits are one job.
type ScanArgs struct {
	Image string `json:"image" river:"unique"`
	// Source is the kind of source Image names (source.KindRegistry when
	// empty): a scan job never guesses, so a name cannot reach a path.
	Source    string `json:"source,omitempty" river:"unique"`
	PlainHTTP bool   `json:"plain_http,omitempty" river:"unique"`
	Insecure  bool   `json:"insecure,omitempty" river:"unique"`
	// Engine is the address of the local engine (Docker or Podman host,
	// containerd socket) whose image Image is, and Namespace its
	// containerd namespace: a job of an engine watch scans that image of
	// that engine and no other.
	Engine    string `json:"engine,omitempty" river:"unique"`
	Namespace string `json:"namespace,omitempty" river:"unique"`
	// RegistryID is the registry a sweep found Image in: its credentials
	// and TLS settings apply, and the sweep records its tags.
	RegistryID int64 `json:"registry_id,omitempty" river:"unique"`
	// Auth is the registry credentials a Harbor scan request carried (or
	// the pull secret an admission review resolved the image with),
	// sealed with the server's secret key (base64); AuthID tells credentials apart
	// (a keyed hash of them), so a request with other credentials, or
	// none, is another job.
	Auth   string `json:"auth,omitempty"`
	AuthID string `json:"auth_id,omitempty" river:"unique"`
	// Harbor is the artifact of the Harbor scan request that queued the
	// scan, as the request named it.
	Harbor *harbor.Artifact `json:"harbor,omitempty"`
	// Reason says why the scan was queued: manual, push, sweep, watch.
	Reason string `json:"reason,omitempty"`
}

// Kind names the job kind.
func (ScanArgs) Kind() string { return "scan" }

// InsertOpts queues scans on QueueScan, once per image and settings
// while one is waiting or running.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueScan, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates}}
}

// Status of a scan as the API reports it.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

func jobStatus(st rivertype.JobState) string {
	switch st {
	case rivertype.JobStateRunning:
		return StatusRunning
	case rivertype.JobStateCompleted:
		return StatusSucceeded
	case rivertype.JobStateDiscarded:
		return StatusFailed
	case rivertype.JobStateCancelled:
		return StatusCanceled
	}
	return StatusQueued
}

// scanWorker runs scan jobs.
type scanWorker struct {
	river.WorkerDefaults[ScanArgs]
	s *Server
}

// Work scans the image and stores the report. A scan that could not run
// is retried (River's retry policy); a report of an incomplete scan is
// stored as it is, saying what is missing.
func (w *scanWorker) Work(ctx context.Context, job *river.Job[ScanArgs]) error {
	s := w.s
	started := time.Now().UTC()
	s.metrics.running.Inc()
	defer s.metrics.running.Dec()
	src := s.pipe.SourceOptions()
	src.Source = job.Args.Source
	if src.Source == "" {
		src.Source = source.KindRegistry
	}
	src.PlainHTTP = src.PlainHTTP || job.Args.PlainHTTP
	src.Insecure = src.Insecure || job.Args.Insecure
	watched := job.Args.Engine != ""
	if watched {
		src = watch.Image{Engine: job.Args.Source, Host: job.Args.Engine, Namespace: job.Args.Namespace}.SourceOptions(src)
	}
	if job.Args.RegistryID != 0 {
		// A registry deleted since is scanned with the job's settings.
		reg, err := s.store.Registry(ctx, job.Args.RegistryID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("registry %d: %w", job.Args.RegistryID, err)
		}
		if reg != nil {
			if err := s.registrySource(reg, &src); err != nil {
				return err
			}
		}
	}
	if job.Args.Auth != "" {
		c, err := unsealString(s.key, job.Args.Auth)
		if err != nil {
			return river.JobCancel(err)
		}
		src.Username, src.Password, src.RegistryToken = c.Username, c.Password, c.Token
	}
	gen := s.pipe.VulnGeneration()
	rep, stats, scanErr := s.pipe.ScanWith(ctx, job.Args.Image, src)
	log := s.log.With("job", job.ID, "image", job.Args.Image, "attempt", job.Attempt, "reason", job.Args.Reason)
	if rep == nil {
		s.metrics.scans.WithLabelValues("error").Inc()
		log.Warn("scan failed", "error", scanErr, "seconds", time.Since(started).Seconds())
		if watched && s.watchLeft(job.Args) {
			return river.JobCancel(fmt.Errorf("the image left the engine: %w", scanErr))
		}
		return scanErr
	}
	rep, gen = s.currentFindings(ctx, rep, gen)
	prev := s.previousScan(ctx, rep.Artifact.Digest)
	rec := store.ScanRecord{
		JobID: job.ID, Input: job.Args.Image, Worker: s.cfg.HostName,
		Started: started, Finished: time.Now().UTC(), LayersWalked: stats.Walked, LayersCached: stats.Cached, Report: rep,
		MatchedGeneration: gen,
	}
	// A watched image's names are its engine's, which its watch records;
	// a swept image's tags, its sweep.
	if !watched && job.Args.RegistryID == 0 {
		rec.Ref = refOf(rep.Artifact.Source, s.engineHost(rep.Artifact.Source), rep.Artifact.Name)
		rec.Ref.Namespace = job.Args.Namespace
	}
	id, err := s.store.SaveScan(ctx, rec)
	if err == nil && watched {
		err = s.watchScanned(ctx, job.Args, rep.Artifact.Digest)
	}
	if err != nil {
		s.metrics.scans.WithLabelValues("error").Inc()
		return fmt.Errorf("store the report: %w", err)
	}
	s.recordRescan(ctx, job.ID, prev, rep, id, gen)
	outcome := "clean"
	if len(rep.Findings) > 0 {
		outcome = "findings"
	}
	if rep.Incomplete || scanErr != nil {
		outcome = "incomplete"
	}
	s.metrics.scans.WithLabelValues(outcome).Inc()
	s.metrics.duration.Observe(time.Since(started).Seconds())
	log.Info("scanned", "digest", rep.Artifact.Digest, "scan", id, "findings", len(rep.Findings), "outcome", outcome,
		"layers_walked", stats.Walked, "layers_cached", stats.Cached, "seconds", time.Since(started).Seconds())
	return nil
}

// engineHost is the host of a reference of source: this host for a local
// engine's image, none for a registry's.
func (s *Server) engineHost(source string) string {
	switch source {
	case store.SourceDocker, store.SourceContainerd, store.SourcePodman:
		return s.cfg.HostName
	}
	return ""
}

// refOf is where a scanned image was seen, on host for a local engine:
// its repository and tag for a registry or engine name, else the input
// itself.
func refOf(source, host, ref string) *store.Ref {
	r := &store.Ref{Source: source, Host: host, Repository: ref}
	if source == "" {
		r.Source = store.SourceRegistry
	}
	if tag, err := name.NewTag(ref, name.WeakValidation); err == nil {
		r.Repository, r.Tag = tag.Context().Name(), tag.TagStr()
	} else if dg, err := name.NewDigest(ref, name.WeakValidation); err == nil {
		r.Repository = dg.Context().Name()
	}
	return r
}
