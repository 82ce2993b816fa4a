package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
)

// MatchedScan is an image's latest scan and the vulnerability database
// generation its findings are current with.
type MatchedScan struct {
	Digest     string
	Name       string
	Scan       int64
	Generation int64
	// Indexed is whether the image's package keys are recorded (see
	// TouchedScans); those of an image scanned before they were are not.
	Indexed bool
}

const matchedCols = `SELECT i.digest, i.name, s.id, s.matched_generation, i.packages_indexed FROM image i JOIN scan s ON s.id = i.last_scan`

// StaleScans lists, in digest order after after, at most limit live
// images (a reference not removed) whose latest scan's findings are not
// current with the database generation gen.
func (s *Store) StaleScans(ctx context.Context, gen int64, after string, limit int) ([]MatchedScan, error) {
	rows, err := s.Query(ctx, matchedCols+` WHERE s.matched_generation <> ? AND i.digest > ? AND `+liveImage+` ORDER BY i.digest LIMIT ?`, gen, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MatchedScan
	for rows.Next() {
		var m MatchedScan
		if err := rows.Scan(&m.Digest, &m.Name, &m.Scan, &m.Generation, &m.Indexed); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// LatestScan returns the latest scan of digest (ErrNotFound when none).
func (s *Store) LatestScan(ctx context.Context, digest string) (*MatchedScan, error) {
	var m MatchedScan
	err := s.QueryRow(ctx, matchedCols+` WHERE i.digest = ?`, digest).Scan(&m.Digest, &m.Name, &m.Scan, &m.Generation, &m.Indexed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &m, err
}

// MarkMatched records that the findings of scans are current with the
// database generation gen: a change since their generation left them as
// they were. A scan whose generation moved meanwhile is left alone.
func (s *Store) MarkMatched(ctx context.Context, gen int64, scans []MatchedScan) error {
	if len(scans) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx *Tx) error {
		for _, m := range scans {
			if _, err := tx.Exec(ctx, `UPDATE scan SET matched_generation = ? WHERE id = ? AND matched_generation = ?`, gen, m.Scan, m.Generation); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rematch is the outcome of re-matching an image's latest scan.
type Rematch struct {
	// Of is the scan re-matched.
	Of     MatchedScan
	Worker string
	// Generation is the database generation the findings are now current
	// with; Report the report holding them.
	Generation int64
	Report     *report.Report
	// Events are the findings that appeared and went away, recorded in
	// Batch.
	Events []Event
	Batch  string
}

// SaveRematches stores re-matches, in one transaction, each as a scan of
// its own (rematch_of names the scan whose inventory was matched again; no
// layer was read) made its image's latest: summary, worst severities and
// advisories follow it, while last_scanned stays the time the image was
// last read. Each one's events are recorded with it. It returns the new
// scans' ids in the order of rs; 0 for a re-match whose image's latest
// scan is not its Of any more (another scan or re-match was stored
// meanwhile: read it again and re-match that), which is left out.
func (s *Store) SaveRematches(ctx context.Context, rs []Rematch) ([]int64, error) {
	type encoded struct {
		blob []byte
		sum  string
		by   map[model.Class]int
		all  int
	}
	enc := make([]encoded, len(rs))
	for i, r := range rs {
		blob, sum, by, all, err := encodeReport(r.Report)
		if err != nil {
			return nil, err
		}
		enc[i] = encoded{blob, sum, by, all}
	}
	at := Millis(time.Now())
	var ids []int64
	err := s.InTx(ctx, func(tx *Tx) error {
		ids = make([]int64, len(rs))
		for i, r := range rs {
			// Takes the image's row: a scan stored meanwhile wins.
			res, err := tx.Exec(ctx, `UPDATE image SET last_scan = last_scan WHERE digest = ? AND last_scan = ?`, r.Of.Digest, r.Of.Scan)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				continue
			}
			e := enc[i]
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO scan(job_id, digest, input, source, worker, started, finished, summary, findings, layers_walked, layers_cached, report, matched_generation, rematch_of)
				SELECT NULL, digest, input, source, ?, ?, ?, ?, ?, 0, 0, ?, ?, id FROM scan WHERE id = ? RETURNING id`,
				r.Worker, at, at, e.sum, len(r.Report.Findings), e.blob, r.Generation, r.Of.Scan).Scan(&id); err != nil {
				return err
			}
			set := []string{"last_scan = ?", "findings = ?", "summary = ?", "worst = ?"}
			args := []any{id, len(r.Report.Findings), e.sum, e.all}
			for _, c := range Classes {
				set = append(set, "worst_"+string(c)+" = ?")
				args = append(args, e.by[c])
			}
			if _, err := tx.Exec(ctx, `UPDATE image SET `+strings.Join(set, ", ")+` WHERE digest = ?`, append(args, r.Of.Digest)...); err != nil {
				return err
			}
			if err := setAdvisories(ctx, tx, r.Of.Digest, r.Report); err != nil {
				return err
			}
			if err := addEvents(ctx, tx, id, r.Batch, r.Events); err != nil {
				return err
			}
			ids[i] = id
		}
		return nil
	})
	return ids, err
}
