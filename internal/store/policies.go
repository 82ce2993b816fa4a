package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// PolicyVersion is one stored version of the image policy.
type PolicyVersion struct {
	Version int64     `json:"version"`
	Name    string    `json:"name,omitempty"`
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	// Text is the policy file; left out of version lists.
	Text string `json:"text,omitempty"`
}

// SavePolicy stores text as the next version of the policy and returns
// its number.
func (s *Store) SavePolicy(ctx context.Context, name, digest, text string) (int64, error) {
	var v int64
	err := s.QueryRow(ctx, `INSERT INTO policy(name, digest, text, created) VALUES(?, ?, ?, ?) RETURNING version`,
		name, digest, text, Millis(now())).Scan(&v)
	return v, err
}

// CurrentPolicyVersion returns the newest policy version's number, 0
// when none was stored.
func (s *Store) CurrentPolicyVersion(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := s.QueryRow(ctx, `SELECT MAX(version) FROM policy`).Scan(&v)
	return v.Int64, err
}

// Policy returns a stored policy version with its text, or ErrNotFound.
func (s *Store) Policy(ctx context.Context, version int64) (*PolicyVersion, error) {
	p := PolicyVersion{Version: version}
	var created int64
	err := s.QueryRow(ctx, `SELECT name, digest, text, created FROM policy WHERE version = ?`, version).
		Scan(&p.Name, &p.Digest, &p.Text, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p.Created = Time(created)
	return &p, nil
}

// PolicyVersions lists the stored versions, newest first, without text.
func (s *Store) PolicyVersions(ctx context.Context, limit int) ([]PolicyVersion, error) {
	rows, err := s.Query(ctx, `SELECT version, name, digest, created FROM policy ORDER BY version DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []PolicyVersion{}
	for rows.Next() {
		var p PolicyVersion
		var created int64
		if err := rows.Scan(&p.Version, &p.Name, &p.Digest, &created); err != nil {
			return nil, err
		}
		p.Created = Time(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// VerdictRecord is one logged decision of an enforcement point.
type VerdictRecord struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Point is the enforcement point: kubernetes, docker, harbor.
	Point     string `json:"point"`
	Image     string `json:"image"`
	Digest    string `json:"digest,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Host      string `json:"host,omitempty"`
	// PolicyVersion is the stored policy version that decided (0: the
	// built-in policy).
	PolicyVersion int64                  `json:"policy_version"`
	Action        model.PolicyAction     `json:"action"`
	Rule          string                 `json:"rule"`
	Reason        string                 `json:"reason"`
	Findings      []model.VerdictFinding `json:"findings"`
}

// LogVerdict records a decision.
func (s *Store) LogVerdict(ctx context.Context, r VerdictRecord) error {
	fs := r.Findings
	if fs == nil {
		fs = []model.VerdictFinding{}
	}
	b, err := json.Marshal(fs)
	if err != nil {
		return err
	}
	if r.At.IsZero() {
		r.At = now()
	}
	_, err = s.Exec(ctx, `INSERT INTO verdict_log(at, point, image, digest, namespace, host, policy_version, action, rule, reason, findings)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		Millis(r.At), r.Point, r.Image, r.Digest, r.Namespace, r.Host, r.PolicyVersion, string(r.Action), r.Rule, r.Reason, string(b))
	return err
}

// VerdictFilter selects logged verdicts; zero fields select all.
type VerdictFilter struct {
	Digest string
	Action model.PolicyAction
	// Before pages back: only verdicts with a smaller id.
	Before int64
	Limit  int
}

// Verdicts lists logged verdicts, newest first.
func (s *Store) Verdicts(ctx context.Context, f VerdictFilter) ([]VerdictRecord, error) {
	q := `SELECT id, at, point, image, digest, namespace, host, policy_version, action, rule, reason, findings FROM verdict_log WHERE 1 = 1`
	var args []any
	if f.Digest != "" {
		q += ` AND digest = ?`
		args = append(args, f.Digest)
	}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, string(f.Action))
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []VerdictRecord{}
	for rows.Next() {
		var r VerdictRecord
		var at int64
		var action, findings string
		if err := rows.Scan(&r.ID, &at, &r.Point, &r.Image, &r.Digest, &r.Namespace, &r.Host, &r.PolicyVersion, &action, &r.Rule, &r.Reason, &findings); err != nil {
			return nil, err
		}
		r.At, r.Action = Time(at), model.PolicyAction(action)
		if err := json.Unmarshal([]byte(findings), &r.Findings); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
