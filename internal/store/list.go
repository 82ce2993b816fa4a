package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// Image is a stored image: its latest scan's summary and its references.
type Image struct {
	Digest       string    `json:"digest"`
	Name         string    `json:"name,omitempty"`
	Source       string    `json:"source,omitempty"`
	OS           string    `json:"os,omitempty"`
	Architecture string    `json:"architecture,omitempty"`
	FirstScanned time.Time `json:"first_scanned"`
	LastScanned  time.Time `json:"last_scanned"`
	LastScan     int64     `json:"last_scan"`
	Packages     int       `json:"packages"`
	Findings     int       `json:"findings"`
	Incomplete   bool      `json:"incomplete,omitempty"`
	// Worst is the highest severity of any finding ("" when none).
	Worst   model.Severity `json:"worst,omitempty"`
	Summary Summary        `json:"summary"`
	Refs    []Ref          `json:"refs"`
	// Removed is true when every reference of the image was removed.
	Removed bool `json:"removed,omitempty"`
}

// ImageFilter selects images. Zero fields do not filter.
type ImageFilter struct {
	// Source, Host, Repository, Tag and Registry match the image's
	// references (live ones, unless IncludeRemoved). Registry is a
	// registry's id, or the host[:port] its repositories start with.
	Source, Host, Repository, Tag, Registry string
	Digest                                  string
	// Search matches part of a reference's repository or of the digest.
	Search string
	// MinSeverity keeps images with a finding of the class at or above
	// the severity; the empty class means any class.
	MinSeverity map[model.Class]model.Severity
	HasMalware  bool
	HasSecrets  bool
	// IncludeRemoved also lists images every reference of which was removed.
	IncludeRemoved bool
	// Sort is "last_scanned" (default, newest first), "worst" or "name".
	Sort          string
	Limit, Offset int
}

// ImagePage is one page of a listing.
type ImagePage struct {
	Images []Image `json:"images"`
	Total  int     `json:"total"`
	Limit  int     `json:"limit"`
	Offset int     `json:"offset"`
}

// MaxPage bounds a listing's page.
const MaxPage = 1000

// ListImages lists the images f selects.
func (s *Store) ListImages(ctx context.Context, f ImageFilter) (*ImagePage, error) {
	var where []string
	var args []any
	var refWhere []string
	var refArgs []any
	addRef := func(cond string, a ...any) { refWhere = append(refWhere, cond); refArgs = append(refArgs, a...) }
	if f.Source != "" {
		addRef("r.source = ?", f.Source)
	}
	if f.Host != "" {
		addRef("r.host = ?", f.Host)
	}
	if f.Repository != "" {
		addRef("r.repository = ?", f.Repository)
	}
	if f.Tag != "" {
		addRef("r.tag = ?", f.Tag)
	}
	if f.Registry != "" {
		if id, err := strconv.ParseInt(f.Registry, 10, 64); err == nil {
			addRef("r.registry_id = ?", id)
		} else {
			addRef("(r.repository LIKE ? ESCAPE '\\')", escapeLike(strings.TrimSuffix(f.Registry, "/"))+"/%")
		}
	}
	if f.Search != "" {
		addRef("(r.repository LIKE ? ESCAPE '\\' OR r.digest LIKE ? ESCAPE '\\')", "%"+escapeLike(f.Search)+"%", "%"+escapeLike(f.Search)+"%")
	}
	if !f.IncludeRemoved {
		addRef("r.removed_at IS NULL")
	}
	if len(refWhere) > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM image_ref r WHERE r.digest = i.digest AND "+strings.Join(refWhere, " AND ")+")")
		args = append(args, refArgs...)
	}
	if f.Digest != "" {
		where = append(where, "i.digest = ?")
		args = append(args, f.Digest)
	}
	for c, sev := range f.MinSeverity {
		col := "i.worst"
		if c != "" {
			if !knownClass(c) {
				return nil, fmt.Errorf("unknown finding class %q", c)
			}
			col = "i.worst_" + string(c)
		}
		where = append(where, col+" >= ?")
		args = append(args, sev.Rank()+1)
	}
	if f.HasMalware {
		where = append(where, "i.worst_malware > 0")
	}
	if f.HasSecrets {
		where = append(where, "i.worst_secret > 0")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	page := &ImagePage{Limit: f.Limit, Offset: max(f.Offset, 0)}
	if page.Limit <= 0 || page.Limit > MaxPage {
		page.Limit = min(max(page.Limit, 100), MaxPage)
	}
	if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM image i`+cond, args...).Scan(&page.Total); err != nil {
		return nil, err
	}
	order := "i.last_scanned DESC, i.digest"
	switch f.Sort {
	case "", "last_scanned":
	case "worst":
		order = "i.worst DESC, i.findings DESC, i.digest"
	case "name":
		order = "i.name, i.digest"
	default:
		return nil, fmt.Errorf("unknown sort %q: want last_scanned, worst or name", f.Sort)
	}
	rows, err := s.Query(ctx, `SELECT i.digest, i.name, i.source, i.os, i.architecture, i.first_scanned, i.last_scanned, i.last_scan,
		i.packages, i.findings, i.incomplete, i.worst, i.summary FROM image i`+cond+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(args, page.Limit, page.Offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	index := map[string]int{}
	page.Images = []Image{}
	for rows.Next() {
		var im Image
		var first, last int64
		var incomplete, worst int
		var sum string
		if err := rows.Scan(&im.Digest, &im.Name, &im.Source, &im.OS, &im.Architecture, &first, &last, &im.LastScan,
			&im.Packages, &im.Findings, &incomplete, &worst, &sum); err != nil {
			return nil, err
		}
		im.FirstScanned, im.LastScanned, im.Incomplete = Time(first), Time(last), incomplete != 0
		im.Worst = severityOfRank(worst)
		if err := json.Unmarshal([]byte(sum), &im.Summary); err != nil {
			return nil, err
		}
		im.Refs = []Ref{}
		index[im.Digest] = len(page.Images)
		page.Images = append(page.Images, im)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(page.Images) == 0 {
		return page, nil
	}
	digests := make([]any, 0, len(page.Images))
	for _, im := range page.Images {
		digests = append(digests, im.Digest)
	}
	refRows, err := s.Query(ctx, `SELECT digest, source, host, namespace, repository, tag, COALESCE(registry_id, 0), first_seen, last_seen, removed_at
		FROM image_ref WHERE digest IN (`+placeholders(len(digests))+`) ORDER BY source, host, namespace, repository, tag`, digests...)
	if err != nil {
		return nil, err
	}
	refs, err := scanRefs(refRows)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		im := &page.Images[index[r.Digest]]
		im.Refs = append(im.Refs, r)
	}
	for i := range page.Images {
		im := &page.Images[i]
		im.Removed = len(im.Refs) > 0
		for _, r := range im.Refs {
			if r.RemovedAt == nil {
				im.Removed = false
			}
		}
	}
	return page, nil
}

// Image returns one stored image.
func (s *Store) Image(ctx context.Context, digest string) (*Image, error) {
	page, err := s.ListImages(ctx, ImageFilter{Digest: digest, IncludeRemoved: true, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(page.Images) == 0 {
		return nil, ErrNotFound
	}
	return &page.Images[0], nil
}

// ImagesWithAdvisory lists the digests of images whose latest scan found
// the advisory id (matched also as an alias, in any case).
func (s *Store) ImagesWithAdvisory(ctx context.Context, id string) ([]string, error) {
	rows, err := s.Query(ctx, `SELECT digest FROM image_advisory WHERE advisory = ? ORDER BY digest`, strings.ToUpper(id))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ImagesByWorst counts stored images by their worst severity ("NONE" for
// images without findings).
func (s *Store) ImagesByWorst(ctx context.Context) (map[string]int, error) {
	rows, err := s.Query(ctx, `SELECT worst, COUNT(*) FROM image GROUP BY worst`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var w, n int
		if err := rows.Scan(&w, &n); err != nil {
			return nil, err
		}
		name := "NONE"
		if w > 0 {
			name = string(severityOfRank(w))
		}
		out[name] += n
	}
	return out, rows.Err()
}

func severityOfRank(r int) model.Severity {
	for _, s := range []model.Severity{model.Critical, model.High, model.Medium, model.Low, model.Unknown} {
		if s.Rank()+1 == r {
			return s
		}
	}
	return ""
}

func knownClass(c model.Class) bool {
	for _, k := range Classes {
		if k == c {
			return true
		}
	}
	return false
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// QueueCount is how many jobs of a queue are in a state.
type QueueCount struct {
	Queue, State string
	Jobs         int
}

// QueueDepth counts the job queue's unfinished jobs by queue and state.
func (s *Store) QueueDepth(ctx context.Context) ([]QueueCount, error) {
	rows, err := s.Query(ctx, `SELECT queue, state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'pending', 'running', 'retryable', 'scheduled') GROUP BY queue, state ORDER BY queue, state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueueCount
	for rows.Next() {
		var c QueueCount
		if err := rows.Scan(&c.Queue, &c.State, &c.Jobs); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
