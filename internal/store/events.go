package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// Event kinds: a finding that appeared in an image, or one that went away.
const (
	EventNew      = "new"
	EventResolved = "resolved"
)

// Event reasons: the vulnerability database changed and the stored
// inventory was matched again, or the image was scanned again.
const (
	ReasonRematch = "rematch"
	ReasonRescan  = "rescan"
)

// EventFinding is the finding an event is about.
type EventFinding struct {
	Class        model.Class       `json:"class"`
	ID           string            `json:"id"`
	Aliases      []string          `json:"aliases,omitempty"`
	Title        string            `json:"title,omitempty"`
	Severity     model.Severity    `json:"severity,omitempty"`
	Package      *model.PackageRef `json:"package,omitempty"`
	FixedVersion string            `json:"fixed_version,omitempty"`
}

// Event is a change in an image's findings.
type Event struct {
	ID int64 `json:"id"`
	// Digest and Name are the image's.
	Digest  string       `json:"digest"`
	Name    string       `json:"name,omitempty"`
	Kind    string       `json:"kind"`
	Finding EventFinding `json:"finding"`
	// Reason is ReasonRematch or ReasonRescan; Generation the vulnerability
	// database generation the image was matched against.
	Reason     string `json:"reason"`
	Generation int64  `json:"generation,omitempty"`
	// Scan is the stored scan holding the image's findings after the
	// change; Batch groups the events of one job.
	Scan    int64     `json:"scan,omitempty"`
	Batch   string    `json:"batch,omitempty"`
	Created time.Time `json:"created"`
}

// NewEvents makes the events of kind (EventNew or EventResolved) for
// findings of the image digest named name.
func NewEvents(digest, name, kind, reason string, generation int64, findings []model.Finding) []Event {
	out := make([]Event, 0, len(findings))
	for _, f := range findings {
		ef := EventFinding{Class: f.Class, ID: f.ID, Aliases: f.Aliases, Title: f.Title, Severity: f.Severity, FixedVersion: f.FixedVersion}
		if f.Package != nil {
			p := *f.Package
			ef.Package = &p
		}
		out = append(out, Event{Digest: digest, Name: name, Kind: kind, Finding: ef, Reason: reason, Generation: generation})
	}
	return out
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	Digest string
	// Kind is EventNew or EventResolved.
	Kind   string
	Reason string
	// MinSeverity keeps events whose finding is at least this severe.
	MinSeverity model.Severity
	// Since keeps events recorded at or after it.
	Since time.Time
	// Batch keeps the events of one job.
	Batch string
	// Limit (default 100, at most MaxPage) and Offset page the events,
	// newest first.
	Limit, Offset int
}

// ListEvents lists the events f selects, newest first, and how many there
// are in all.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]Event, int, error) {
	var where []string
	var args []any
	add := func(cond string, a any) { where = append(where, cond); args = append(args, a) }
	if f.Digest != "" {
		add("digest = ?", f.Digest)
	}
	switch f.Kind {
	case "":
	case EventNew, EventResolved:
		add("kind = ?", f.Kind)
	default:
		return nil, 0, fmt.Errorf("unknown event kind %q: want new or resolved", f.Kind)
	}
	if f.Reason != "" {
		add("reason = ?", f.Reason)
	}
	if f.MinSeverity != "" {
		add("severity_rank >= ?", f.MinSeverity.Rank()+1)
	}
	if !f.Since.IsZero() {
		add("created >= ?", Millis(f.Since))
	}
	if f.Batch != "" {
		add("batch = ?", f.Batch)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM event`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxPage)
	rows, err := s.Query(ctx, `SELECT id, digest, name, kind, class, advisory, aliases, title, package, version, package_type, purl,
		fixed_version, severity, reason, generation, COALESCE(scan_id, 0), batch, created FROM event`+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var aliases, pkg, version, typ, purl string
		var created int64
		if err := rows.Scan(&e.ID, &e.Digest, &e.Name, &e.Kind, &e.Finding.Class, &e.Finding.ID, &aliases, &e.Finding.Title,
			&pkg, &version, &typ, &purl, &e.Finding.FixedVersion, &e.Finding.Severity, &e.Reason, &e.Generation, &e.Scan, &e.Batch, &created); err != nil {
			return nil, 0, err
		}
		if err := json.Unmarshal([]byte(aliases), &e.Finding.Aliases); err != nil {
			return nil, 0, fmt.Errorf("event %d: aliases: %w", e.ID, err)
		}
		if pkg != "" || purl != "" {
			e.Finding.Package = &model.PackageRef{Name: pkg, Version: version, Type: typ, PURL: purl}
		}
		e.Created = Time(created)
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// AddEvents records events of one batch, made by the scan scanID.
func (s *Store) AddEvents(ctx context.Context, scanID int64, batch string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx *Tx) error { return addEvents(ctx, tx, scanID, batch, events) })
}

func addEvents(ctx context.Context, tx *Tx, scanID int64, batch string, events []Event) error {
	at := Millis(now())
	for _, e := range events {
		aliases := e.Finding.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		al, err := json.Marshal(aliases)
		if err != nil {
			return err
		}
		var p model.PackageRef
		if e.Finding.Package != nil {
			p = *e.Finding.Package
		}
		rank := 0
		if e.Finding.Severity != "" {
			rank = e.Finding.Severity.Rank() + 1
		}
		if _, err := tx.Exec(ctx, `INSERT INTO event(digest, name, kind, class, advisory, aliases, title, package, version, package_type, purl,
			fixed_version, severity, severity_rank, reason, generation, scan_id, batch, created) VALUES(`+placeholders(19)+`)`,
			e.Digest, e.Name, e.Kind, string(e.Finding.Class), e.Finding.ID, string(al), e.Finding.Title, p.Name, p.Version, p.Type, p.PURL,
			e.Finding.FixedVersion, string(e.Finding.Severity), rank, e.Reason, e.Generation, nullID(scanID), batch, at); err != nil {
			return err
		}
	}
	return nil
}
