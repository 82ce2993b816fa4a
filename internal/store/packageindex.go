package store

import (
	"context"
	"sort"
	"strings"

	"github.com/customs-scanner/customs/internal/rematch"
	"github.com/customs-scanner/customs/internal/report"
	"github.com/customs-scanner/customs/internal/vulndb"
)

// indexChunk bounds the package keys (and record ids) one statement
// carries, well under the parameter limits of both dialects.
const indexChunk = 500

// packageKeys are the distinct database keys of rep's packages, OS-owned
// ones included (whether those are matched is a setting of the matcher).
func packageKeys(rep *report.Report) []vulndb.PackageKey {
	seen := map[vulndb.PackageKey]bool{}
	var out []vulndb.PackageKey
	for _, p := range rep.Packages {
		if k, ok := rematch.PackageKey(rep.Artifact.OS, p); ok && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ecosystem != out[j].Ecosystem {
			return out[i].Ecosystem < out[j].Ecosystem
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// setPackages makes the package keys of rep those of the image digest
// (image_package), changing only the rows that differ: a rescan of the
// same image changes none.
func setPackages(ctx context.Context, tx *Tx, digest string, rep *report.Report) error {
	rows, err := tx.Query(ctx, `SELECT ecosystem, name FROM image_package WHERE digest = ?`, digest)
	if err != nil {
		return err
	}
	have := map[vulndb.PackageKey]bool{}
	for rows.Next() {
		var k vulndb.PackageKey
		if err := rows.Scan(&k.Ecosystem, &k.Name); err != nil {
			rows.Close()
			return err
		}
		have[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var add []vulndb.PackageKey
	for _, k := range packageKeys(rep) {
		if have[k] {
			delete(have, k)
			continue
		}
		add = append(add, k)
	}
	for k := range have {
		if _, err := tx.Exec(ctx, `DELETE FROM image_package WHERE ecosystem = ? AND name = ? AND digest = ?`, k.Ecosystem, k.Name, digest); err != nil {
			return err
		}
	}
	for len(add) > 0 {
		chunk := add[:min(len(add), indexChunk)]
		add = add[len(chunk):]
		args := make([]any, 0, 3*len(chunk))
		for _, k := range chunk {
			args = append(args, k.Ecosystem, k.Name, digest)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO image_package(ecosystem, name, digest) VALUES `+rowsOf(len(chunk), 3)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// IndexPackages records the package keys of the image m names, whose
// latest scan's report is rep, when they are not yet (an image scanned
// before the store recorded them) and m.Scan is still its latest scan: a
// later re-match then need not read its report to tell whether a change
// touches it.
func (s *Store) IndexPackages(ctx context.Context, m MatchedScan, rep *report.Report) error {
	return s.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `UPDATE image SET packages_indexed = 1 WHERE digest = ? AND last_scan = ? AND packages_indexed = 0`, m.Digest, m.Scan)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return setPackages(ctx, tx, m.Digest, rep)
	})
}

// TouchedScans returns which of scans, latest scans of images whose
// package keys are recorded (Indexed), a change of the records ids naming the
// packages keys (vulndb.Changes) may touch: those holding a package of
// keys, and those of an image with a finding from one of the records
// (image_advisory holds the record ids behind each finding). The others'
// findings stay as they are, without their reports being read.
func (s *Store) TouchedScans(ctx context.Context, scans []MatchedScan, keys []vulndb.PackageKey, ids []string) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(scans) == 0 || len(keys) == 0 && len(ids) == 0 {
		return out, nil
	}
	scanArgs := make([]any, len(scans))
	for i, m := range scans {
		scanArgs[i] = m.Scan
	}
	for i := 0; i < max(len(keys), len(ids)); i += indexChunk {
		kc := keys[min(i, len(keys)):min(i+indexChunk, len(keys))]
		ic := ids[min(i, len(ids)):min(i+indexChunk, len(ids))]
		var conds []string
		args := append([]any{}, scanArgs...)
		if len(kc) > 0 {
			conds = append(conds, `EXISTS (SELECT 1 FROM image_package p WHERE p.digest = s.digest AND (p.ecosystem, p.name) IN (VALUES `+rowsOf(len(kc), 2)+`))`)
			for _, k := range kc {
				args = append(args, k.Ecosystem, k.Name)
			}
		}
		if len(ic) > 0 {
			conds = append(conds, `EXISTS (SELECT 1 FROM image_advisory a WHERE a.digest = s.digest AND a.advisory IN (`+placeholders(len(ic))+`))`)
			for _, id := range ic {
				args = append(args, strings.ToUpper(id))
			}
		}
		if err := s.touched(ctx, out, `SELECT s.id FROM scan s WHERE s.id IN (`+placeholders(len(scans))+`) AND (`+strings.Join(conds, " OR ")+`)`, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// touched adds the scan ids the query q returns to out.
func (s *Store) touched(ctx context.Context, out map[int64]bool, q string, args ...any) error {
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		out[id] = true
	}
	return rows.Err()
}

// rowsOf is n parenthesised rows of width placeholders: (?, ?), (?, ?).
func rowsOf(n, width int) string {
	row := "(" + placeholders(width) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}
