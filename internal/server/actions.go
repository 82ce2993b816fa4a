package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/store"
)

// InputError is a request refused as it is (HTTP 400).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }

func inputError(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// answerError answers err: 400 for an InputError, 404 for ErrNotFound,
// 500 for others.
func (s *Server) answerError(w http.ResponseWriter, r *http.Request, err error, format string, args ...any) {
	var in *InputError
	if errors.As(err, &in) {
		writeError(w, http.StatusBadRequest, "%v", in.Err)
		return
	}
	s.notFound(w, r, err, format, args...)
}

// QueueScan queues a scan of a registry reference (POST /api/v1/scans);
// duplicate is true when one was already waiting or running, whose
// status is returned.
func (s *Server) QueueScan(ctx context.Context, req ScanRequest) (st *ScanStatus, duplicate bool, err error) {
	req.Image = strings.TrimSpace(req.Image)
	if req.Image == "" {
		return nil, false, inputError("image: a reference is required")
	}
	// Only registry references: a path would let an API caller read the
	// server's own files. Local images come from the engine watchers.
	if _, err := name.ParseReference(req.Image); err != nil || strings.ContainsAny(req.Image[:1], "/.") {
		return nil, false, inputError("image %q is not a registry reference: %v", req.Image, err)
	}
	res, err := s.jobs.Insert(ctx, ScanArgs{Image: req.Image, PlainHTTP: req.PlainHTTP, Insecure: req.Insecure, Reason: "manual"}, nil)
	if err != nil {
		return nil, false, err
	}
	return &ScanStatus{ID: res.Job.ID, Status: jobStatus(res.Job.State), Image: req.Image, Queued: res.Job.CreatedAt}, res.UniqueSkippedAsDuplicate, nil
}

// Scan returns a scan job's status (GET /api/v1/scans/{id}).
func (s *Server) Scan(ctx context.Context, id int64) (*ScanStatus, error) {
	return s.scanStatus(ctx, id)
}

// CancelScan cancels a scan job (DELETE /api/v1/scans/{id}).
func (s *Server) CancelScan(ctx context.Context, id int64) (*ScanStatus, error) {
	if _, err := s.jobs.JobCancel(ctx, id); err != nil {
		if errors.Is(err, rivertype.ErrNotFound) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	return s.scanStatus(ctx, id)
}

// RetryScan runs a finished, failed or canceled scan job again now
// (POST /api/v1/scans/{id}/retry); a queued one runs now, a running one
// is left alone.
func (s *Server) RetryScan(ctx context.Context, id int64) (*ScanStatus, error) {
	if _, err := s.scanStatus(ctx, id); err != nil {
		return nil, err
	}
	if _, err := s.jobs.JobRetry(ctx, id); err != nil {
		if errors.Is(err, rivertype.ErrNotFound) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	return s.scanStatus(ctx, id)
}

// jobStates are the queue's states of each status.
var jobStates = map[string][]rivertype.JobState{
	StatusQueued:    {rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateScheduled},
	StatusRunning:   {rivertype.JobStateRunning},
	StatusSucceeded: {rivertype.JobStateCompleted},
	StatusFailed:    {rivertype.JobStateDiscarded},
	StatusCanceled:  {rivertype.JobStateCancelled},
}

// ListScans lists scan jobs, newest first, at most limit (GET
// /api/v1/scans?status=...): of one status, or of all when status is
// empty. Finished jobs stay listed as long as the queue keeps them.
func (s *Server) ListScans(ctx context.Context, status string, limit int) ([]ScanStatus, error) {
	if limit <= 0 || limit > store.MaxPage {
		limit = 100
	}
	p := river.NewJobListParams().Kinds((ScanArgs{}).Kind()).OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	if status != "" {
		states, ok := jobStates[status]
		if !ok {
			return nil, inputError("status %q: want queued, running, succeeded, failed or canceled", status)
		}
		p = p.States(states...)
	}
	res, err := s.jobs.JobList(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]ScanStatus, 0, len(res.Jobs))
	for _, job := range res.Jobs {
		out = append(out, s.jobScanStatus(ctx, job))
	}
	return out, nil
}

// jobScanStatus is a scan job's status, with its stored scan once done.
func (s *Server) jobScanStatus(ctx context.Context, job *rivertype.JobRow) ScanStatus {
	var args ScanArgs
	_ = json.Unmarshal(job.EncodedArgs, &args)
	st := ScanStatus{ID: job.ID, Status: jobStatus(job.State), Image: args.Image, Attempt: job.Attempt, Queued: job.CreatedAt, Started: job.AttemptedAt, Finished: job.FinalizedAt}
	if n := len(job.Errors); n > 0 && st.Status != StatusSucceeded {
		st.Error = job.Errors[n-1].Error
	}
	if st.Status == StatusSucceeded {
		if si, err := s.store.ScanOfJob(ctx, job.ID); err == nil {
			st.Digest, st.Scan = si.Digest, si.ID
		}
	}
	return st
}

// SaveRegistry creates (id 0) or updates a registry from req (POST and
// PUT /api/v1/registries): on update, credentials left out are kept.
func (s *Server) SaveRegistry(ctx context.Context, id int64, req RegistryRequest) (*store.Registry, error) {
	reg := &store.Registry{}
	if id != 0 {
		var err error
		if reg, err = s.store.Registry(ctx, id); err != nil {
			return nil, err
		}
	}
	sched, err := s.applyRegistry(req, reg)
	if err != nil {
		return nil, err
	}
	if id, err = s.store.SaveRegistry(ctx, reg, nextSweep(sched)); err != nil {
		return nil, err
	}
	return s.store.Registry(ctx, id)
}

// SweepRegistry queues a sweep of the registry now (POST
// /api/v1/registries/{id}/sweep).
func (s *Server) SweepRegistry(ctx context.Context, id int64) (*SweepStatus, error) {
	if _, err := s.store.Registry(ctx, id); err != nil {
		return nil, err
	}
	res, err := s.jobs.Insert(ctx, SweepArgs{RegistryID: id}, nil)
	if err != nil {
		return nil, err
	}
	return &SweepStatus{ID: res.Job.ID, RegistryID: id, Duplicate: res.UniqueSkippedAsDuplicate}, nil
}

// QueueStatus counts the queue's scan and sweep jobs.
type QueueStatus struct {
	Queued  int `json:"queued"`
	Running int `json:"running"`
	// FailedLastDay counts the jobs that failed for good in the last 24
	// hours (at most store.MaxPage).
	FailedLastDay int `json:"failed_last_day"`
}

// Overview answers GET /api/v1/overview: the state of every listed image
// at a glance.
type Overview struct {
	// Risk counts images by finding class and the class's worst severity.
	Risk map[model.Class]map[model.Severity]int `json:"risk"`
	// Riskiest are the 10 images with the worst findings.
	Riskiest []store.Image `json:"riskiest"`
	// Advisories are the 10 advisories (ids and aliases) most images carry.
	Advisories []store.AdvisoryCount `json:"advisories"`
	// Trend is the findings per severity at the end of each of the last 30 days.
	Trend []store.TrendDay `json:"trend"`
	// VulnDB is the store's vulnerability database (absent: none published).
	VulnDB *store.VulnDBInfo `json:"vulndb,omitempty"`
	Queue  QueueStatus       `json:"queue"`
	// Images counts the listed images.
	Images int `json:"images"`
}

// Overview reads the overview of the store and the queue.
func (s *Server) Overview(ctx context.Context) (*Overview, error) {
	var o Overview
	var err error
	if o.Risk, err = s.store.RiskCounts(ctx); err != nil {
		return nil, err
	}
	page, err := s.store.ListImages(ctx, store.ImageFilter{Sort: "worst", Limit: 10})
	if err != nil {
		return nil, err
	}
	o.Riskiest, o.Images = page.Images, page.Total
	if o.Advisories, err = s.store.TopAdvisories(ctx, 10); err != nil {
		return nil, err
	}
	if o.Trend, err = s.store.FindingTrend(ctx, 30, time.Now()); err != nil {
		return nil, err
	}
	if o.VulnDB, err = s.store.VulnDB(ctx); errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	depth, err := s.store.QueueDepth(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range depth {
		if c.State == string(rivertype.JobStateRunning) {
			o.Queue.Running += c.Jobs
		} else {
			o.Queue.Queued += c.Jobs
		}
	}
	failed, err := s.jobs.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).First(store.MaxPage))
	if err != nil {
		return nil, err
	}
	for _, j := range failed.Jobs {
		if j.FinalizedAt != nil && time.Since(*j.FinalizedAt) < 24*time.Hour {
			o.Queue.FailedLastDay++
		}
	}
	return &o, nil
}

// DiffFindings returns the findings of now that before did not have, and
// those of before that now does not: what a rescan's events record.
func DiffFindings(before, now []model.Finding) (added, resolved []model.Finding) {
	return diffFindings(before, now)
}

// EventQuery reads the query of GET /api/v1/events (digest, kind, reason,
// min_severity, since, batch, limit, offset); an InputError says what is
// wrong.
func EventQuery(r *http.Request) (store.EventFilter, error) {
	f, err := eventFilter(r)
	if err != nil {
		return f, &InputError{err}
	}
	return f, nil
}

// Logger returns the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }
