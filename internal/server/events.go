package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/store"
)

// EventPage answers GET /api/v1/events.
type EventPage struct {
	Events []store.Event `json:"events"`
	Total  int           `json:"total"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
}

// eventFilter reads GET /api/v1/events's query: digest, kind, reason,
// min_severity, since (RFC 3339), batch, limit, offset.
func eventFilter(r *http.Request) (store.EventFilter, error) {
	q := r.URL.Query()
	f := store.EventFilter{Digest: q.Get("digest"), Kind: q.Get("kind"), Reason: q.Get("reason"), Batch: q.Get("batch")}
	switch f.Kind {
	case "", store.EventNew, store.EventResolved:
	default:
		return f, fmt.Errorf("kind=%s: want new or resolved", f.Kind)
	}
	switch f.Reason {
	case "", store.ReasonRematch, store.ReasonRescan:
	default:
		return f, fmt.Errorf("reason=%s: want rematch or rescan", f.Reason)
	}
	if v := q.Get("min_severity"); v != "" {
		sev, err := parseSeverity(v)
		if err != nil {
			return f, fmt.Errorf("min_severity=%s: %w", v, err)
		}
		f.MinSeverity = sev
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, fmt.Errorf("since=%s: want an RFC 3339 time (2026-01-02T15:04:05Z)", v)
		}
		f.Since = t
	}
	return f, pageParams(q, &f.Limit, &f.Offset)
}

// parseSeverity reads a severity name in any case.
func parseSeverity(v string) (model.Severity, error) {
	sev := model.Severity(strings.ToUpper(strings.TrimSpace(v)))
	if sev.Rank() == 0 && sev != model.Unknown {
		return "", fmt.Errorf("want CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN")
	}
	return sev, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	f, err := eventFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	events, total, err := s.store.ListEvents(r.Context(), f)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	writeJSON(w, http.StatusOK, EventPage{Events: events, Total: total, Limit: min(limit, store.MaxPage), Offset: f.Offset})
}

// storedScan is an image's latest stored scan before a rescan.
type storedScan struct {
	store.MatchedScan
	report *report.Report
}

// previousScan reads the latest stored scan of digest (nil when none, or
// unreadable: the rescan then records no events).
func (s *Server) previousScan(ctx context.Context, digest string) *storedScan {
	m, err := s.store.LatestScan(ctx, digest)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("previous scan", "digest", digest, "error", err)
		}
		return nil
	}
	rep, err := s.store.ScanReport(ctx, digest, m.Scan)
	if err != nil {
		s.log.Warn("previous scan", "digest", digest, "error", err)
		return nil
	}
	return &storedScan{MatchedScan: *m, report: rep}
}

// recordRescan records the difference between the findings of an image's
// previous scan and those of its rescan (stored as scan id, current with
// the database generation gen) as events of the batch scan:JOB, and
// queues their delivery. A previous scan matched against a later database
// than the rescan is not compared (the rescan's findings are brought up by
// a re-match). Failures are logged: the scan itself is stored.
func (s *Server) recordRescan(ctx context.Context, jobID int64, prev *storedScan, rep *report.Report, id, gen int64) {
	if prev == nil || prev.Generation > gen {
		return
	}
	added, resolved := diffFindings(prev.report.Findings, rep.Findings)
	if len(added)+len(resolved) == 0 {
		return
	}
	digest, name := rep.Artifact.Digest, rep.Artifact.Name
	events := append(store.NewEvents(digest, name, store.EventNew, store.ReasonRescan, gen, added),
		store.NewEvents(digest, name, store.EventResolved, store.ReasonRescan, gen, resolved)...)
	batch := fmt.Sprintf("scan:%d", jobID)
	err := s.store.AddEvents(ctx, id, batch, events)
	if err == nil {
		err = s.queueNotifications(ctx, batch)
	}
	if err != nil {
		s.log.Warn("record the rescan's events", "digest", digest, "error", err)
	}
}

// diffFindings returns the findings of now that before did not have, and
// those of before that now does not, each finding met at most once.
func diffFindings(before, now []model.Finding) (added, resolved []model.Finding) {
	left := map[string]int{}
	for i := range before {
		left[findingKey(&before[i])]++
	}
	for i := range now {
		k := findingKey(&now[i])
		if left[k] > 0 {
			left[k]--
			continue
		}
		added = append(added, now[i])
	}
	for i := range before {
		k := findingKey(&before[i])
		if left[k] > 0 {
			left[k]--
			resolved = append(resolved, before[i])
		}
	}
	return added, resolved
}

// findingKey names a finding across scans of one image: its class, id,
// package and place.
func findingKey(f *model.Finding) string {
	pkg := ""
	if p := f.Package; p != nil {
		pkg = p.PURL
		if pkg == "" {
			pkg = p.Type + "/" + p.Name + "@" + p.Version
		}
	}
	return strings.Join([]string{string(f.Class), f.ID, pkg, f.Path, f.Location}, "\x00")
}
