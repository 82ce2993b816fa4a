package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
	"github.com/customs-scanner/customs/internal/report"
)

// Classes are the finding classes the store ranks, in column order.
var Classes = []model.Class{
	model.ClassVulnerability, model.ClassMalware, model.ClassSecret, model.ClassMisconfiguration,
	model.ClassRegistry, model.ClassIntegrity, model.ClassArchive,
}

// Sources of an image reference: a registry, or a host's engine.
const (
	SourceRegistry   = "registry"
	SourceDocker     = "docker"
	SourceContainerd = "containerd"
	SourcePodman     = "podman"
)

// Ref is where an image was seen.
type Ref struct {
	Source string `json:"source"`
	Host   string `json:"host,omitempty"`
	// Namespace is the containerd namespace holding the image ("" for
	// other sources).
	Namespace  string `json:"namespace,omitempty"`
	Repository string `json:"repository,omitempty"`
	Tag        string `json:"tag,omitempty"`
	RegistryID int64  `json:"registry_id,omitempty"`
	// Digest is the image's digest (set when read back).
	Digest    string     `json:"digest,omitempty"`
	FirstSeen time.Time  `json:"first_seen"`
	LastSeen  time.Time  `json:"last_seen"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
}

// Summary counts findings by class and severity:
// {"vulnerability": {"HIGH": 3}}.
type Summary map[string]map[string]int

// Summarize counts rep's findings.
func Summarize(rep *report.Report) Summary {
	s := Summary{}
	for _, f := range rep.Findings {
		sev := f.Severity
		if sev == "" {
			sev = model.Unknown
		}
		if s[string(f.Class)] == nil {
			s[string(f.Class)] = map[string]int{}
		}
		s[string(f.Class)][string(sev)]++
	}
	return s
}

// worst is the highest rank + 1 of rep's findings per class, and overall.
func worst(rep *report.Report) (map[model.Class]int, int) {
	by := map[model.Class]int{}
	all := 0
	for _, f := range rep.Findings {
		r := f.Severity.Rank() + 1
		by[f.Class] = max(by[f.Class], r)
		all = max(all, r)
	}
	return by, all
}

// ScanRecord is one finished scan to save.
type ScanRecord struct {
	JobID  int64
	Input  string
	Worker string
	// Ref, when set, records where the image was seen.
	Ref          *Ref
	Started      time.Time
	Finished     time.Time
	LayersWalked int
	LayersCached int
	Report       *report.Report
	// MatchedGeneration is the vulnerability database generation the
	// report's findings are current with (0: unknown).
	MatchedGeneration int64
}

// SaveScan stores a scan and makes it its image's latest: the image's
// summary, worst severities and advisories follow it. It returns the
// scan's id.
func (s *Store) SaveScan(ctx context.Context, r ScanRecord) (int64, error) {
	rep := r.Report
	digest := rep.Artifact.Digest
	if digest == "" {
		return 0, fmt.Errorf("the report of %s names no digest", r.Input)
	}
	blob, sum, by, all, err := encodeReport(rep)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.InTx(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO scan(job_id, digest, input, source, worker, started, finished, summary, findings, layers_walked, layers_cached, report, matched_generation)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			nullID(r.JobID), digest, r.Input, rep.Artifact.Source, r.Worker, Millis(r.Started), Millis(r.Finished),
			string(sum), len(rep.Findings), r.LayersWalked, r.LayersCached, blob, r.MatchedGeneration).Scan(&id); err != nil {
			return err
		}
		osName := ""
		if rep.Artifact.OS != nil {
			osName = strings.TrimSpace(rep.Artifact.OS.Family + " " + rep.Artifact.OS.Version)
		}
		cols := []string{"digest", "name", "source", "os", "architecture", "first_scanned", "last_scanned", "last_scan",
			"packages", "findings", "incomplete", "summary", "worst", "packages_indexed"}
		args := []any{digest, rep.Artifact.Name, rep.Artifact.Source, osName, rep.Artifact.Architecture,
			Millis(r.Finished), Millis(r.Finished), id, len(rep.Packages), len(rep.Findings), boolInt(rep.Incomplete), string(sum), all, 1}
		for _, c := range Classes {
			cols = append(cols, "worst_"+string(c))
			args = append(args, by[c])
		}
		var set []string
		for _, c := range cols[1:] {
			if c != "first_scanned" {
				set = append(set, c+" = excluded."+c)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO image(`+strings.Join(cols, ", ")+`) VALUES(`+placeholders(len(cols))+`)
			ON CONFLICT (digest) DO UPDATE SET `+strings.Join(set, ", "), args...); err != nil {
			return err
		}
		if err := setAdvisories(ctx, tx, digest, rep); err != nil {
			return err
		}
		if err := setPackages(ctx, tx, digest, rep); err != nil {
			return err
		}
		if r.Ref != nil {
			return seeRef(ctx, tx, digest, *r.Ref, r.Finished)
		}
		return nil
	})
	return id, err
}

// encodeReport is what the store keeps of rep: the gzip JSON report, the
// summary's JSON, and the worst severity rank + 1 per class and overall.
func encodeReport(rep *report.Report) (blob []byte, sum string, by map[model.Class]int, all int, err error) {
	if blob, err = gzipJSON(rep); err != nil {
		return nil, "", nil, 0, err
	}
	b, err := json.Marshal(Summarize(rep))
	if err != nil {
		return nil, "", nil, 0, err
	}
	by, all = worst(rep)
	return blob, string(b), by, all, nil
}

// setAdvisories makes rep's advisories those of the image digest,
// changing only the rows that differ (a rescan or re-match changes few).
func setAdvisories(ctx context.Context, tx *Tx, digest string, rep *report.Report) error {
	rows, err := tx.Query(ctx, `SELECT advisory FROM image_advisory WHERE digest = ?`, digest)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var adv string
		if err := rows.Scan(&adv); err != nil {
			rows.Close()
			return err
		}
		have[adv] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, adv := range advisories(rep) {
		if have[adv] {
			delete(have, adv)
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO image_advisory(advisory, digest) VALUES(?, ?) ON CONFLICT DO NOTHING`, adv, digest); err != nil {
			return err
		}
	}
	for adv := range have {
		if _, err := tx.Exec(ctx, `DELETE FROM image_advisory WHERE advisory = ? AND digest = ?`, adv, digest); err != nil {
			return err
		}
	}
	return nil
}

// advisories are the upper-case ids and aliases of rep's vulnerability
// and malicious-package findings.
func advisories(rep *report.Report) []string {
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Class != model.ClassVulnerability && f.Class != model.ClassMalware || f.Package == nil {
			continue
		}
		for _, id := range append([]string{f.ID}, f.Aliases...) {
			if id != "" {
				seen[strings.ToUpper(id)] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// SeeRef records that the image digest was seen at ref now: a new
// reference, or a known one seen again (and no longer removed).
func (s *Store) SeeRef(ctx context.Context, digest string, ref Ref) error {
	return s.InTx(ctx, func(tx *Tx) error { return seeRef(ctx, tx, digest, ref, now()) })
}

func seeRef(ctx context.Context, tx *Tx, digest string, ref Ref, at time.Time) error {
	_, err := tx.Exec(ctx, seeRefSQL, seeRefArgs(digest, ref, at)...)
	return err
}

const seeRefSQL = `INSERT INTO image_ref(digest, source, host, namespace, repository, tag, registry_id, first_seen, last_seen)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, host, namespace, repository, tag, digest) DO UPDATE SET last_seen = excluded.last_seen, removed_at = NULL,
			registry_id = COALESCE(excluded.registry_id, image_ref.registry_id)`

func seeRefArgs(digest string, ref Ref, at time.Time) []any {
	return []any{digest, ref.Source, ref.Host, ref.Namespace, ref.Repository, ref.Tag, nullID(ref.RegistryID), Millis(at), Millis(at)}
}

// SeeRefStatement is SeeRef as a statement in the store's dialect and its
// arguments, for a transaction the store does not open: the job queue's,
// so that a reference is recorded with the scan queued for it or not at
// all.
func (s *Store) SeeRefStatement(digest string, ref Ref) (string, []any) {
	return s.Q(seeRefSQL), seeRefArgs(digest, ref, now())
}

// RemoveRefs marks as removed, now, the references of source on host
// whose digest is not in keep: what a host's engine no longer holds.
func (s *Store) RemoveRefs(ctx context.Context, source, host string, keep []string) (int64, error) {
	q := `UPDATE image_ref SET removed_at = ? WHERE source = ? AND host = ? AND removed_at IS NULL`
	args := []any{Millis(now()), source, host}
	if len(keep) > 0 {
		q += ` AND digest NOT IN (` + placeholders(len(keep)) + `)`
		for _, d := range keep {
			args = append(args, d)
		}
	}
	res, err := s.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RemoveRegistryRefs marks as removed, now, the references of the
// registry id last seen before since: the tags a complete sweep that
// started at since no longer found (deleted, moved to another image, or
// no longer selected by the registry's repository and tag globs).
func (s *Store) RemoveRegistryRefs(ctx context.Context, id int64, since time.Time) (int64, error) {
	res, err := s.Exec(ctx, `UPDATE image_ref SET removed_at = ? WHERE source = ? AND registry_id = ? AND last_seen < ? AND removed_at IS NULL`,
		Millis(now()), SourceRegistry, id, Millis(since))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RemoveRef marks one reference removed.
func (s *Store) RemoveRef(ctx context.Context, digest string, ref Ref) error {
	_, err := s.Exec(ctx, `UPDATE image_ref SET removed_at = ? WHERE source = ? AND host = ? AND namespace = ? AND repository = ? AND tag = ? AND digest = ?
		AND removed_at IS NULL`, Millis(now()), ref.Source, ref.Host, ref.Namespace, ref.Repository, ref.Tag, digest)
	return err
}

// Refs lists the references of digest, removed ones included.
func (s *Store) Refs(ctx context.Context, digest string) ([]Ref, error) {
	rows, err := s.Query(ctx, `SELECT digest, source, host, namespace, repository, tag, COALESCE(registry_id, 0), first_seen, last_seen, removed_at
		FROM image_ref WHERE digest = ? ORDER BY source, host, namespace, repository, tag`, digest)
	if err != nil {
		return nil, err
	}
	return scanRefs(rows)
}

// HostRefs lists the references of source on host that are not removed.
func (s *Store) HostRefs(ctx context.Context, source, host string) ([]Ref, error) {
	rows, err := s.Query(ctx, `SELECT digest, source, host, namespace, repository, tag, COALESCE(registry_id, 0), first_seen, last_seen, removed_at
		FROM image_ref WHERE source = ? AND host = ? AND removed_at IS NULL ORDER BY digest, namespace, repository, tag`, source, host)
	if err != nil {
		return nil, err
	}
	return scanRefs(rows)
}

func scanRefs(rows *sql.Rows) ([]Ref, error) {
	defer rows.Close()
	var out []Ref
	for rows.Next() {
		var r Ref
		var first, last int64
		var removed sql.NullInt64
		if err := rows.Scan(&r.Digest, &r.Source, &r.Host, &r.Namespace, &r.Repository, &r.Tag, &r.RegistryID, &first, &last, &removed); err != nil {
			return nil, err
		}
		r.FirstSeen, r.LastSeen = Time(first), Time(last)
		if removed.Valid {
			t := Time(removed.Int64)
			r.RemovedAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ScanInfo describes one stored scan.
type ScanInfo struct {
	ID           int64     `json:"id"`
	JobID        int64     `json:"job_id,omitempty"`
	Digest       string    `json:"digest"`
	Input        string    `json:"input"`
	Worker       string    `json:"worker,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Findings     int       `json:"findings"`
	Summary      Summary   `json:"summary"`
	LayersWalked int       `json:"layers_walked"`
	LayersCached int       `json:"layers_cached"`
	// RematchOf, for a re-match, is the scan whose inventory was matched
	// again after the vulnerability database changed (no layer was read).
	RematchOf int64 `json:"rematch_of,omitempty"`
}

const scanCols = `id, COALESCE(job_id, 0), digest, input, worker, started, finished, findings, summary, layers_walked, layers_cached, COALESCE(rematch_of, 0)`

func scanScanInfo(row interface{ Scan(...any) error }) (*ScanInfo, error) {
	var si ScanInfo
	var started, finished int64
	var sum string
	if err := row.Scan(&si.ID, &si.JobID, &si.Digest, &si.Input, &si.Worker, &started, &finished, &si.Findings, &sum,
		&si.LayersWalked, &si.LayersCached, &si.RematchOf); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	si.Started, si.Finished = Time(started), Time(finished)
	if err := json.Unmarshal([]byte(sum), &si.Summary); err != nil {
		return nil, err
	}
	return &si, nil
}

// ScanOfJob returns the scan a job saved (ErrNotFound when none).
func (s *Store) ScanOfJob(ctx context.Context, jobID int64) (*ScanInfo, error) {
	return scanScanInfo(s.QueryRow(ctx, `SELECT `+scanCols+` FROM scan WHERE job_id = ? ORDER BY id DESC LIMIT 1`, jobID))
}

// ImageScans lists the scans of digest, newest first, at most limit.
func (s *Store) ImageScans(ctx context.Context, digest string, limit int) ([]ScanInfo, error) {
	rows, err := s.Query(ctx, `SELECT `+scanCols+` FROM scan WHERE digest = ? ORDER BY finished DESC, id DESC LIMIT ?`, digest, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ScanInfo
	for rows.Next() {
		si, err := scanScanInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *si)
	}
	return out, rows.Err()
}

// LatestReport returns the report of digest's latest scan.
func (s *Store) LatestReport(ctx context.Context, digest string) (*report.Report, error) {
	return s.readReport(ctx, `SELECT s.report FROM image i JOIN scan s ON s.id = i.last_scan WHERE i.digest = ?`, digest)
}

// ScanReport returns the report of the scan id of digest.
func (s *Store) ScanReport(ctx context.Context, digest string, id int64) (*report.Report, error) {
	return s.readReport(ctx, `SELECT report FROM scan WHERE digest = ? AND id = ?`, digest, id)
}

func (s *Store) readReport(ctx context.Context, q string, args ...any) (*report.Report, error) {
	var blob []byte
	if err := s.QueryRow(ctx, q, args...).Scan(&blob); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	var rep report.Report
	if err := json.NewDecoder(io.LimitReader(zr, 1<<30)).Decode(&rep); err != nil {
		return nil, fmt.Errorf("stored report: %w", err)
	}
	return &rep, nil
}

// PruneScans deletes the scans of each image beyond the newest keep,
// never an image's latest. It returns how many it deleted.
func (s *Store) PruneScans(ctx context.Context, keep int) (int64, error) {
	res, err := s.Exec(ctx, `DELETE FROM scan WHERE id IN (
		SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY digest ORDER BY finished DESC, id DESC) AS n FROM scan) ranked
		WHERE n > ?) AND id NOT IN (SELECT last_scan FROM image)`, keep)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func gzipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nullID is nil for 0, so optional references stay NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
