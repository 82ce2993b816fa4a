package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/model"
	regscan "github.com/customs-scanner/customs/internal/registry"
	"github.com/customs-scanner/customs/internal/source"
	"github.com/customs-scanner/customs/internal/store"
)

// Bounds of a registry's settings.
const (
	maxGlobs     = 100
	maxGlobLen   = 256
	maxLatest    = 10000
	minSchedule  = time.Minute
	maxSchedule  = 366 * 24 * time.Hour
	maxCredBytes = 4096
)

// RegistryRequest is the body of POST /api/v1/registries and of PUT
// /api/v1/registries/{id}. On PUT, credentials left out are kept.
type RegistryRequest struct {
	URL          string   `json:"url"`
	Username     string   `json:"username,omitempty"`
	Password     string   `json:"password,omitempty"`
	PlainHTTP    bool     `json:"plain_http"`
	Insecure     bool     `json:"insecure"`
	Repositories []string `json:"repositories"`
	Tags         []string `json:"tags"`
	Latest       int      `json:"latest"`
	Schedule     string   `json:"schedule"`
}

// registryURL reads a registry address: host[:port], optionally after
// https:// or http:// (which means plain HTTP).
func registryURL(u string) (host string, plain bool, err error) {
	u = strings.TrimSpace(u)
	if rest, ok := strings.CutPrefix(u, "http://"); ok {
		u, plain = rest, true
	} else {
		u = strings.TrimPrefix(u, "https://")
	}
	u = strings.TrimSuffix(u, "/")
	if u == "" || strings.ContainsAny(u, "/?#@ ") {
		return "", false, fmt.Errorf("url %q: want a registry address, host[:port]", u)
	}
	reg, err := name.NewRegistry(u, name.StrictValidation)
	if err != nil {
		return "", false, fmt.Errorf("url %q: %w", u, err)
	}
	return reg.RegistryStr(), plain, nil
}

func checkGlobs(field string, globs []string) error {
	if len(globs) > maxGlobs {
		return fmt.Errorf("%s: at most %d globs", field, maxGlobs)
	}
	for _, g := range globs {
		if g == "" || len(g) > maxGlobLen {
			return fmt.Errorf("%s: a glob is empty or longer than %d characters", field, maxGlobLen)
		}
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("%s: glob %q: %w", field, g, err)
		}
	}
	return nil
}

// applyRegistry checks a registry request and sets r from it (whose ID
// and Secret are kept unless new credentials are given), and returns its
// schedule; an InputError says what is wrong.
func (s *Server) applyRegistry(body RegistryRequest, r *store.Registry) (schedule, error) {
	host, plain, err := registryURL(body.URL)
	if err == nil {
		err = errors.Join(checkGlobs("repositories", body.Repositories), checkGlobs("tags", body.Tags))
	}
	if err == nil && (body.Latest < 0 || body.Latest > maxLatest) {
		err = fmt.Errorf("latest %d: want 0 (all tags) to %d", body.Latest, maxLatest)
	}
	sched, serr := parseSchedule(body.Schedule)
	if err == nil {
		err = serr
	}
	hasCred := body.Username != "" || body.Password != ""
	switch {
	case err != nil:
	case hasCred && (body.Username == "" || body.Password == ""):
		err = errors.New("username and password go together")
	case len(body.Username)+len(body.Password) > maxCredBytes:
		err = fmt.Errorf("credentials longer than %d bytes", maxCredBytes)
	case hasCred && s.key == nil:
		err = errors.New("this server has no secret key to encrypt credentials with: start it with --secret-key-file (registries without credentials need none)")
	}
	if err != nil {
		return schedule{}, &InputError{err}
	}
	if hasCred {
		if r.Secret, err = seal(s.key, credentials{Username: body.Username, Password: body.Password}); err != nil {
			return schedule{}, err
		}
	}
	r.URL, r.PlainHTTP, r.Insecure = host, plain || body.PlainHTTP, body.Insecure
	r.Repositories, r.Tags, r.Latest, r.Schedule = body.Repositories, body.Tags, body.Latest, strings.TrimSpace(body.Schedule)
	return sched, nil
}

// decodeRegistry reads a registry request's body; it reports whether it
// could (else it answered).
func decodeRegistry(w http.ResponseWriter, req *http.Request, body *RegistryRequest) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(body); err != nil {
		writeError(w, http.StatusBadRequest, "body: %v", err)
		return false
	}
	return true
}

// nextSweep is when a registry with schedule sched is first due: now,
// or never without a schedule.
func nextSweep(sched schedule) time.Time {
	if sched.none() {
		return time.Time{}
	}
	return time.Now()
}

func (s *Server) createRegistry(w http.ResponseWriter, r *http.Request) {
	var body RegistryRequest
	if !decodeRegistry(w, r, &body) {
		return
	}
	reg, err := s.SaveRegistry(r.Context(), 0, body)
	if err != nil {
		s.answerError(w, r, err, "")
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/registries/%d", reg.ID))
	writeJSON(w, http.StatusCreated, reg)
}

func (s *Server) answerRegistry(w http.ResponseWriter, r *http.Request, id int64, code int) {
	reg, err := s.store.Registry(r.Context(), id)
	if s.notFound(w, r, err, "no registry %d", id) {
		return
	}
	writeJSON(w, code, reg)
}

func registryID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "registry id %q: want a positive number", r.PathValue("id"))
		return 0, false
	}
	return id, true
}

func (s *Server) listRegistries(w http.ResponseWriter, r *http.Request) {
	regs, err := s.store.Registries(r.Context())
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"registries": regs})
}

func (s *Server) getRegistry(w http.ResponseWriter, r *http.Request) {
	if id, ok := registryID(w, r); ok {
		s.answerRegistry(w, r, id, http.StatusOK)
	}
}

func (s *Server) updateRegistry(w http.ResponseWriter, r *http.Request) {
	id, ok := registryID(w, r)
	if !ok {
		return
	}
	var body RegistryRequest
	if !decodeRegistry(w, r, &body) {
		return
	}
	reg, err := s.SaveRegistry(r.Context(), id, body)
	if err != nil {
		s.answerError(w, r, err, "no registry %d", id)
		return
	}
	writeJSON(w, http.StatusOK, reg)
}

func (s *Server) deleteRegistry(w http.ResponseWriter, r *http.Request) {
	id, ok := registryID(w, r)
	if !ok {
		return
	}
	if s.notFound(w, r, s.store.DeleteRegistry(r.Context(), id), "no registry %d", id) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SweepStatus answers POST /api/v1/registries/{id}/sweep.
type SweepStatus struct {
	// ID is the sweep job's id.
	ID         int64 `json:"id"`
	RegistryID int64 `json:"registry_id"`
	// Duplicate is true when a sweep of the registry was already queued
	// or running.
	Duplicate bool `json:"duplicate,omitempty"`
}

func (s *Server) sweepRegistry(w http.ResponseWriter, r *http.Request) {
	id, ok := registryID(w, r)
	if !ok {
		return
	}
	st, err := s.SweepRegistry(r.Context(), id)
	if s.notFound(w, r, err, "no registry %d", id) {
		return
	}
	writeJSON(w, http.StatusAccepted, st)
}

// SweepArgs is a sweep job: enumerate a registry, record its tags, queue
// a scan of each image not yet scanned, and audit it.
type SweepArgs struct {
	RegistryID int64 `json:"registry_id"`
}

// Kind names the job kind.
func (SweepArgs) Kind() string { return "sweep" }

// InsertOpts queues sweeps on QueueSweep, once per registry while one is
// waiting or running.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSweep, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates}}
}

// SweepStats counts what a sweep found and did.
type SweepStats struct {
	Repositories int `json:"repositories"`
	Tags         int `json:"tags"`
	Images       int `json:"images"`
	// Queued counts the scans queued: images not scanned before.
	Queued int `json:"queued"`
	// Removed counts the references marked removed: tags seen by an
	// earlier sweep that this one, complete, no longer found.
	Removed int64    `json:"removed"`
	Errors  []string `json:"errors,omitempty"`
}

// sweepAudit is what a sweep keeps of the registry's audit.
type sweepAudit struct {
	API      string          `json:"api,omitempty"`
	Findings []model.Finding `json:"findings"`
	Error    string          `json:"error,omitempty"`
}

// sweepWorker runs sweep jobs.
type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Server
}

// Work sweeps the registry and records the outcome on it. A registry
// that cannot be listed is recorded as the sweep's error, not retried:
// the schedule tries again.
func (w *sweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	s := w.s
	reg, err := s.store.Registry(ctx, job.Args.RegistryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted since
	}
	if err != nil {
		return err
	}
	stats, repos, sweepErr := s.sweep(ctx, reg)
	audit := s.audit(ctx, reg, repos)
	sched, _ := parseSchedule(reg.Schedule)
	rec := store.SweepRecord{Finished: time.Now()}
	rec.Next = sched.next(rec.Finished)
	if sweepErr != nil {
		rec.Error = sweepErr.Error()
	}
	if rec.Stats, err = json.Marshal(stats); err != nil {
		return err
	}
	if rec.Audit, err = json.Marshal(audit); err != nil {
		return err
	}
	s.log.Info("swept", "registry", reg.URL, "id", reg.ID, "images", stats.Images, "queued", stats.Queued, "error", rec.Error,
		"audit_findings", len(audit.Findings))
	return s.store.RecordSweep(context.WithoutCancel(ctx), reg.ID, rec)
}

// registrySource sets how to reach reg: its TLS settings and
// credentials.
func (s *Server) registrySource(reg *store.Registry, src *source.Options) error {
	src.PlainHTTP = src.PlainHTTP || reg.PlainHTTP
	src.Insecure = src.Insecure || reg.Insecure
	if !reg.HasCredentials {
		return nil
	}
	c, err := unseal(s.key, reg.Secret)
	if err != nil {
		return fmt.Errorf("registry %d: %w", reg.ID, err)
	}
	src.Username, src.Password = c.Username, c.Password
	return nil
}

// sweep enumerates the registry (internal/registry), records where each
// image was seen, and queues a scan of each image not scanned yet. It
// returns the repositories it found images in, as paths.
func (s *Server) sweep(ctx context.Context, reg *store.Registry) (SweepStats, []string, error) {
	var stats SweepStats
	var repos []string
	started := time.Now()
	var src source.Options
	if err := s.registrySource(reg, &src); err != nil {
		return stats, nil, err
	}
	var mu sync.Mutex
	opt := regscan.ScanOptions{
		Remote: src.RemoteOptions(ctx), Name: src.NameOptions(),
		Repos: reg.Repositories, Tags: reg.Tags, Latest: reg.Latest,
		// "Scanning" an image here is queueing its scan job, unless the
		// store has it already.
		Scan: func(ctx context.Context, ref string) (*regscan.ImageResult, error) {
			d, err := name.NewDigest(ref, src.NameOptions()...)
			if err != nil {
				return nil, err
			}
			if _, err := s.store.Image(ctx, d.DigestStr()); !errors.Is(err, store.ErrNotFound) {
				return &regscan.ImageResult{}, err
			}
			args := ScanArgs{Image: ref, PlainHTTP: reg.PlainHTTP, Insecure: reg.Insecure, RegistryID: reg.ID, Reason: "sweep"}
			opts := args.InsertOpts()
			opts.Queue = QueueSweep
			res, err := s.jobs.Insert(ctx, args, &opts)
			if err != nil {
				return nil, err
			}
			if !res.UniqueSkippedAsDuplicate {
				mu.Lock()
				stats.Queued++
				mu.Unlock()
			}
			return &regscan.ImageResult{}, nil
		},
	}
	rep, err := regscan.Scan(ctx, reg.URL, opt)
	if err != nil {
		return stats, nil, err
	}
	stats.Repositories, stats.Tags, stats.Images, stats.Errors = rep.Stats.Repositories, rep.Stats.Tags, rep.Stats.Images, rep.Errors
	for _, im := range rep.Images {
		if im.Error != "" {
			stats.Errors = append(stats.Errors, fmt.Sprintf("%s: %s", im.Digest, im.Error))
			continue
		}
		for _, r := range im.Refs {
			tag, err := name.NewTag(r, src.NameOptions()...)
			if err != nil {
				continue
			}
			if err := s.store.SeeRef(ctx, im.Digest, store.Ref{Source: store.SourceRegistry, Repository: tag.Context().Name(),
				Tag: tag.TagStr(), RegistryID: reg.ID}); err != nil {
				return stats, repos, err
			}
			if p := tag.Context().RepositoryStr(); !slices.Contains(repos, p) {
				repos = append(repos, p)
			}
		}
	}
	if len(stats.Errors) > 0 {
		// An incomplete listing removes nothing: a tag it missed may
		// still be there.
		return stats, repos, fmt.Errorf("%d repositories, tags or images could not be listed, resolved or queued: %s", len(stats.Errors), stats.Errors[0])
	}
	stats.Removed, err = s.store.RemoveRegistryRefs(ctx, reg.ID, started)
	return stats, repos, err
}

// audit probes the registry as an anonymous client would
// (internal/registry's read-only probes). The repositories the sweep
// found, with the registry's credentials when it has some, are probed
// for anonymous pulls too: a registry whose catalog is closed may still
// serve its images to anyone who knows their names.
func (s *Server) audit(ctx context.Context, reg *store.Registry, repos []string) sweepAudit {
	target := reg.URL
	if reg.PlainHTTP {
		target = "http://" + target
	}
	slices.Sort(repos)
	res, err := regscan.Audit(ctx, target, regscan.AuditOptions{Repositories: firstRepos(repos, auditRepositories)})
	if err != nil {
		return sweepAudit{Findings: []model.Finding{}, Error: err.Error()}
	}
	return sweepAudit{API: res.API, Findings: append([]model.Finding{}, res.Findings...)}
}

// auditRepositories bounds how many of the repositories a sweep found
// the audit probes for anonymous pulls.
const auditRepositories = 3

func firstRepos(repos []string, n int) []string {
	if len(repos) > n {
		return repos[:n]
	}
	return repos
}

// scheduleSweeps queues the sweeps registries' schedules ask for, every
// SweepCheck, until ctx ends. Several workers may do so at once: a sweep
// is queued once while one is waiting or running.
func (s *Server) scheduleSweeps(ctx context.Context) {
	t := time.NewTicker(s.cfg.SweepCheck)
	defer t.Stop()
	for {
		due, err := s.store.DueRegistries(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("registries due a sweep", "error", err)
		}
		for _, reg := range due {
			if _, err := s.jobs.Insert(ctx, SweepArgs{RegistryID: reg.ID}, nil); err != nil && ctx.Err() == nil {
				s.log.Warn("queue a sweep", "registry", reg.URL, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
