package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
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
