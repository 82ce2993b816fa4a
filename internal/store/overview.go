package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// liveImage is true for an image some reference of which was not removed
// (what ListImages lists by default).
const liveImage = `EXISTS (SELECT 1 FROM image_ref r WHERE r.digest = i.digest AND r.removed_at IS NULL)`

// RiskCounts counts the listed images (those with a live reference) by
// finding class and the worst severity of the class in their latest scan:
// {"malware": {"CRITICAL": 2}}. Classes without findings are left out.
func (s *Store) RiskCounts(ctx context.Context) (map[model.Class]map[model.Severity]int, error) {
	var parts []string
	for _, c := range Classes {
		col := "i.worst_" + string(c)
		parts = append(parts, `SELECT '`+string(c)+`', `+col+`, COUNT(*) FROM image i WHERE `+col+` > 0 AND `+liveImage+` GROUP BY `+col)
	}
	rows, err := s.Query(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[model.Class]map[model.Severity]int{}
	for rows.Next() {
		var class string
		var rank, n int
		if err := rows.Scan(&class, &rank, &n); err != nil {
			return nil, err
		}
		c := model.Class(class)
		if out[c] == nil {
			out[c] = map[model.Severity]int{}
		}
		out[c][severityOfRank(rank)] += n
	}
	return out, rows.Err()
}

// AdvisoryCount is how many images' latest scans carry an advisory.
type AdvisoryCount struct {
	Advisory string `json:"advisory"`
	Images   int    `json:"images"`
}

// TopAdvisories lists the n advisory ids and aliases carried by the most
// images, most first.
func (s *Store) TopAdvisories(ctx context.Context, n int) ([]AdvisoryCount, error) {
	rows, err := s.Query(ctx, `SELECT advisory, COUNT(*) AS n FROM image_advisory GROUP BY advisory ORDER BY n DESC, advisory LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AdvisoryCount{}
	for rows.Next() {
		var a AdvisoryCount
		if err := rows.Scan(&a.Advisory, &a.Images); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// TrendDay is the findings of every image's latest scan as of the end of
// a day (UTC), by severity.
type TrendDay struct {
	Day        time.Time      `json:"day"`
	BySeverity map[string]int `json:"by_severity"`
}

// FindingTrend is the findings per severity at the end of each of the
// days days up to and including the day of until, from the scan history:
// each image counts with its latest scan finished by then.
func (s *Store) FindingTrend(ctx context.Context, days int, until time.Time) ([]TrendDay, error) {
	end := until.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	current := map[string]map[string]int{}
	total := map[string]int{}
	see := func(digest, summary string) error {
		var sum Summary
		if err := json.Unmarshal([]byte(summary), &sum); err != nil {
			return err
		}
		for sev, n := range current[digest] {
			total[sev] -= n
		}
		by := map[string]int{}
		for _, sevs := range sum {
			for sev, n := range sevs {
				by[sev] += n
				total[sev] += n
			}
		}
		current[digest] = by
		return nil
	}
	// Each image's latest scan before the window, then the window's
	// scans in order.
	rows, err := s.Query(ctx, `SELECT s.digest, s.summary, s.finished FROM scan s JOIN (
		SELECT digest, MAX(id) AS id FROM scan WHERE finished < ? GROUP BY digest) b ON b.id = s.id
		UNION ALL SELECT digest, summary, finished FROM scan WHERE finished >= ? AND finished < ?
		ORDER BY 3`, Millis(start), Millis(start), Millis(end))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]TrendDay, 0, days)
	day := start
	flush := func(upTo int64) {
		for Millis(day.Add(24*time.Hour)) <= upTo && day.Before(end) {
			by := map[string]int{}
			for sev, n := range total {
				if n != 0 {
					by[sev] = n
				}
			}
			out = append(out, TrendDay{Day: day, BySeverity: by})
			day = day.Add(24 * time.Hour)
		}
	}
	for rows.Next() {
		var digest, summary string
		var finished int64
		if err := rows.Scan(&digest, &summary, &finished); err != nil {
			return nil, err
		}
		flush(finished)
		if err := see(digest, summary); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	flush(Millis(end))
	return out, nil
}
