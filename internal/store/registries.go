package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// Registry is a registry the server sweeps. Its credentials are kept
// only sealed (Secret), and never leave the server.
type Registry struct {
	ID int64 `json:"id"`
	// URL is the registry's host[:port].
	URL          string   `json:"url"`
	PlainHTTP    bool     `json:"plain_http"`
	Insecure     bool     `json:"insecure"`
	Repositories []string `json:"repositories"`
	Tags         []string `json:"tags"`
	Latest       int      `json:"latest"`
	// Schedule says how often it is swept ("" for on demand only).
	Schedule string `json:"schedule"`
	// Secret is the sealed credentials (nil: none).
	Secret         []byte    `json:"-"`
	HasCredentials bool      `json:"has_credentials"`
	Created        time.Time `json:"created"`
	// NextSweep is when the schedule next asks for a sweep.
	NextSweep *time.Time `json:"next_sweep,omitempty"`
	LastSweep *time.Time `json:"last_sweep,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	// LastAudit and LastStats are the latest sweep's audit and counts.
	LastAudit json.RawMessage `json:"last_audit,omitempty"`
	LastStats json.RawMessage `json:"last_stats,omitempty"`
}

const registryCols = `id, url, secret, plain_http, insecure, repositories, tags, latest, schedule, created, next_sweep, last_sweep, last_error, last_audit, last_stats`

func scanRegistry(row interface{ Scan(...any) error }) (*Registry, error) {
	var r Registry
	var plain, insecure int
	var repos, tags, audit, stats string
	var created, next, last int64
	if err := row.Scan(&r.ID, &r.URL, &r.Secret, &plain, &insecure, &repos, &tags, &r.Latest, &r.Schedule,
		&created, &next, &last, &r.LastError, &audit, &stats); err != nil {
		return nil, err
	}
	r.PlainHTTP, r.Insecure, r.HasCredentials = plain != 0, insecure != 0, len(r.Secret) > 0
	if err := json.Unmarshal([]byte(repos), &r.Repositories); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &r.Tags); err != nil {
		return nil, err
	}
	r.Created = Time(created)
	if next != 0 {
		t := Time(next)
		r.NextSweep = &t
	}
	if last != 0 {
		t := Time(last)
		r.LastSweep = &t
	}
	if audit != "" {
		r.LastAudit = json.RawMessage(audit)
	}
	if stats != "" {
		r.LastStats = json.RawMessage(stats)
	}
	return &r, nil
}

func globsJSON(globs []string) (string, error) {
	if globs == nil {
		globs = []string{}
	}
	b, err := json.Marshal(globs)
	return string(b), err
}

func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// SaveRegistry creates r (ID 0) or replaces its settings and secret,
// and returns its id. next is when a sweep is first due (zero: none).
func (s *Store) SaveRegistry(ctx context.Context, r *Registry, next time.Time) (int64, error) {
	repos, err := globsJSON(r.Repositories)
	if err != nil {
		return 0, err
	}
	tags, err := globsJSON(r.Tags)
	if err != nil {
		return 0, err
	}
	if r.ID == 0 {
		var id int64
		err := s.QueryRow(ctx, `INSERT INTO registry(url, secret, plain_http, insecure, repositories, tags, latest, schedule, created, next_sweep)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			r.URL, nullBlob(r.Secret), boolInt(r.PlainHTTP), boolInt(r.Insecure), repos, tags, r.Latest, r.Schedule,
			Millis(now()), Millis(next)).Scan(&id)
		return id, err
	}
	res, err := s.Exec(ctx, `UPDATE registry SET url = ?, secret = ?, plain_http = ?, insecure = ?, repositories = ?, tags = ?, latest = ?, schedule = ?, next_sweep = ?
		WHERE id = ?`, r.URL, nullBlob(r.Secret), boolInt(r.PlainHTTP), boolInt(r.Insecure), repos, tags, r.Latest, r.Schedule, Millis(next), r.ID)
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, ErrNotFound
	}
	return r.ID, nil
}

// Registry returns the registry id, or ErrNotFound.
func (s *Store) Registry(ctx context.Context, id int64) (*Registry, error) {
	r, err := scanRegistry(s.QueryRow(ctx, `SELECT `+registryCols+` FROM registry WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return r, err
}

// Registries lists the registries by id.
func (s *Store) Registries(ctx context.Context) ([]Registry, error) {
	return s.queryRegistries(ctx, `SELECT `+registryCols+` FROM registry ORDER BY id`)
}

// DueRegistries lists the scheduled registries whose next sweep is at or
// before at.
func (s *Store) DueRegistries(ctx context.Context, at time.Time) ([]Registry, error) {
	return s.queryRegistries(ctx, `SELECT `+registryCols+` FROM registry WHERE schedule <> '' AND next_sweep > 0 AND next_sweep <= ? ORDER BY next_sweep`, Millis(at))
}

func (s *Store) queryRegistries(ctx context.Context, q string, args ...any) ([]Registry, error) {
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Registry{}
	for rows.Next() {
		r, err := scanRegistry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// DeleteRegistry forgets the registry; the images seen there stay.
func (s *Store) DeleteRegistry(ctx context.Context, id int64) error {
	res, err := s.Exec(ctx, `DELETE FROM registry WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SweepRecord is the outcome of one sweep of a registry.
type SweepRecord struct {
	Finished time.Time
	// Next is when the next sweep is due (zero: none scheduled).
	Next  time.Time
	Error string
	// Audit and Stats are JSON documents (nil keeps the previous audit).
	Audit, Stats []byte
}

// RecordSweep stores a sweep's outcome.
func (s *Store) RecordSweep(ctx context.Context, id int64, r SweepRecord) error {
	q := `UPDATE registry SET last_sweep = ?, next_sweep = ?, last_error = ?, last_stats = ?`
	args := []any{Millis(r.Finished), Millis(r.Next), r.Error, string(r.Stats)}
	if r.Audit != nil {
		q += `, last_audit = ?`
		args = append(args, string(r.Audit))
	}
	_, err := s.Exec(ctx, q+` WHERE id = ?`, append(args, id)...)
	return err
}
