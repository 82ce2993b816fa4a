package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/customs-scanner/customs/internal/store"
	"github.com/customs-scanner/customs/internal/webhook"
)

// HookResult answers a push notification: the scan jobs its pushes
// queued (a push of an image already waiting or being scanned gives
// that scan's id; several pushes of one image give one id) and how many
// push entries were dropped as invalid.
type HookResult struct {
	Jobs    []int64 `json:"jobs"`
	Skipped int     `json:"skipped"`
}

// distributionHook receives a CNCF Distribution (Docker registry)
// notification envelope: each manifest push queues a scan; blob events,
// pulls and deletes are ignored.
func (s *Server) distributionHook(w http.ResponseWriter, r *http.Request) {
	s.hook(w, r, "distribution", webhook.ParseDistribution)
}

// harborHook receives a Harbor webhook payload (default format): each
// artifact of a PUSH_ARTIFACT notification queues a scan; other
// notification types are ignored.
func (s *Server) harborHook(w http.ResponseWriter, r *http.Request) {
	s.hook(w, r, "harbor", webhook.ParseHarbor)
}

// hook reads a notification body of at most webhook.MaxBody bytes (413
// beyond), parses it (400 when refused), and queues a scan of each push
// by digest, recording the pushed tag in the same transaction. The hook
// URL's query says how to reach the registry: plain_http=true and
// insecure=true (skip TLS verification), as for POST /api/v1/scans.
func (s *Server) hook(w http.ResponseWriter, r *http.Request, kind string, parse func([]byte) ([]webhook.Push, error)) {
	var opts [2]bool
	for i, key := range []string{"plain_http", "insecure"} {
		if v := r.URL.Query().Get(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "%s=%s: want true or false", key, v)
				return
			}
			opts[i] = b
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "notification body larger than %d bytes", webhook.MaxBody)
			return
		}
		writeError(w, http.StatusBadRequest, "read the notification: %v", err)
		return
	}
	pushes, err := parse(body)
	if errors.Is(err, webhook.ErrRejected) {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	skips := webhook.Skips(err)
	for _, sk := range skips {
		s.log.Warn("push notification entry skipped", "hook", kind, "error", sk)
	}
	jobs, err := s.queuePushes(r.Context(), pushes, opts[0], opts[1])
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("push notification", "hook", kind, "pushes", len(pushes), "jobs", len(jobs), "skipped", len(skips))
	writeJSON(w, http.StatusAccepted, HookResult{Jobs: jobs, Skipped: len(skips)})
}

// queuePushes queues a scan of each push's repository@digest and records
// the push's reference, all in one transaction of the queue's driver.
func (s *Server) queuePushes(ctx context.Context, pushes []webhook.Push, plainHTTP, insecure bool) ([]int64, error) {
	if len(pushes) == 0 {
		return []int64{}, nil
	}
	switch c := s.jobs.(type) {
	case *river.Client[pgx.Tx]:
		tx, err := s.store.Pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit
		exec := func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err }
		ids, err := insertPushes(ctx, c, tx, exec, s.store, pushes, plainHTTP, insecure)
		if err != nil {
			return nil, err
		}
		return ids, tx.Commit(ctx)
	case *river.Client[*sql.Tx]:
		tx, err := s.store.QueueDB.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }() // a no-op after Commit
		exec := func(q string, args ...any) error { _, err := tx.ExecContext(ctx, q, args...); return err }
		ids, err := insertPushes(ctx, c, tx, exec, s.store, pushes, plainHTTP, insecure)
		if err != nil {
			return nil, err
		}
		return ids, tx.Commit()
	}
	return nil, fmt.Errorf("job queue %T takes no transactions", s.jobs)
}

// insertPushes inserts the scan jobs and references of pushes in tx.
// River's unique options make a push of an image already queued give
// that job.
func insertPushes[TTx any](ctx context.Context, c *river.Client[TTx], tx TTx, exec func(string, ...any) error,
	st *store.Store, pushes []webhook.Push, plainHTTP, insecure bool) ([]int64, error) {
	ids := []int64{}
	seen := map[int64]bool{}
	for _, p := range pushes {
		repo, err := name.NewRepository(p.Registry+"/"+p.Repository, name.WeakValidation)
		if err != nil {
			return nil, fmt.Errorf("push %s: %w", p.Reference(), err)
		}
		res, err := c.InsertTx(ctx, tx, ScanArgs{Image: p.Reference(), PlainHTTP: plainHTTP, Insecure: insecure, Reason: "push"}, nil)
		if err != nil {
			return nil, err
		}
		q, args := st.SeeRefStatement(p.Digest, store.Ref{Source: store.SourceRegistry, Repository: repo.Name(), Tag: p.Tag})
		if err := exec(q, args...); err != nil {
			return nil, fmt.Errorf("record %s: %w", p.Reference(), err)
		}
		if !seen[res.Job.ID] {
			seen[res.Job.ID] = true
			ids = append(ids, res.Job.ID)
		}
	}
	return ids, nil
}
