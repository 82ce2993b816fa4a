package vulndb

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// FileName is the database file inside a database directory.
const FileName = "vuln.db"

// schemaVersion changes when the tables change; older files are rebuilt.
// Version 4 added records.hash and the change log (see changes.go).
const schemaVersion = "4"

const schema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
	source TEXT PRIMARY KEY, origin TEXT NOT NULL, fetched_at TEXT NOT NULL, records INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records(
	source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, data BLOB NOT NULL, hash BLOB NOT NULL,
	PRIMARY KEY(source, id));
CREATE TABLE IF NOT EXISTS affected(
	base TEXT NOT NULL, name TEXT NOT NULL, ecosystem TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL,
	modified TEXT NOT NULL, withdrawn INTEGER NOT NULL, entries BLOB NOT NULL,
	PRIMARY KEY(base, name, ecosystem, source, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS affected_source ON affected(source, id);
CREATE INDEX IF NOT EXISTS records_id ON records(id);
CREATE TABLE IF NOT EXISTS known(id TEXT NOT NULL, rid TEXT NOT NULL, PRIMARY KEY(id, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ecosystems(
	ecosystem TEXT PRIMARY KEY, records INTEGER NOT NULL, modified TEXT NOT NULL, fetched_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changed_ids(generation INTEGER NOT NULL, id TEXT NOT NULL,
	PRIMARY KEY(generation, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changed_keys(generation INTEGER NOT NULL, base TEXT NOT NULL, name TEXT NOT NULL,
	PRIMARY KEY(generation, base, name)) WITHOUT ROWID;
`

// ErrNoDatabase is returned by Open when the directory holds no database.
var ErrNoDatabase = errors.New("no vulnerability database")

// DB is an open, read-only vulnerability database. It is safe for
// concurrent use.
type DB struct {
	db         *sql.DB
	candidates *sql.Stmt
	records    *sql.Stmt
	byID       *sql.Stmt
	path       string

	ecoMu sync.Mutex
	ecos  []EcosystemInfo // nil until read
}

// Open opens the database in dir read-only. It returns an error wrapping
// ErrNoDatabase when there is none.
func Open(dir string) (*DB, error) {
	p := filepath.Join(dir, FileName)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s", ErrNoDatabase, dir)
		}
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+p+"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)&_pragma=mmap_size(1073741824)")
	if err != nil {
		return nil, err
	}
	d, err := newDB(db, p)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return d, nil
}

func newDB(db *sql.DB, p string) (*DB, error) {
	var v string
	if err := db.QueryRow(`SELECT value FROM meta WHERE key='schema'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("not a customs vulnerability database: %w", err)
	}
	if v != schemaVersion {
		return nil, fmt.Errorf("database schema %s, this customs reads %s: run `customs db update` again", v, schemaVersion)
	}
	d := &DB{db: db, path: p}
	var err error
	if d.candidates, err = db.Prepare(`SELECT name, ecosystem, source, id, modified, withdrawn, entries FROM affected
		WHERE base = ? AND name IN (SELECT value FROM json_each(?))`); err != nil {
		return nil, err
	}
	if d.records, err = db.Prepare(`SELECT r.source, r.id, r.data FROM json_each(?) k
		JOIN records r ON r.source = json_extract(k.value, '$[0]') AND r.id = json_extract(k.value, '$[1]')`); err != nil {
		d.candidates.Close()
		return nil, err
	}
	if d.byID, err = db.Prepare(`SELECT k.value, r.source, r.id, r.modified, r.data FROM json_each(?1) k
		JOIN records r ON r.id = k.value
		UNION ALL
		SELECT k.value, r.source, r.id, r.modified, r.data FROM json_each(?1) k
		JOIN known i ON i.id = k.value JOIN records r ON r.id = i.rid`); err != nil {
		d.candidates.Close()
		d.records.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the database.
func (d *DB) Close() error {
	d.candidates.Close()
	d.records.Close()
	d.byID.Close()
	return d.db.Close()
}

// Path is the database file ("" for an in-memory database).
func (d *DB) Path() string { return d.path }

// Key names one stored record: the source that holds it and its id.
type Key struct {
	Source string
	ID     string
}

// Candidate is what the database keeps about one record for one package
// in one ecosystem: enough to decide whether an installed version is
// affected without reading the whole record.
type Candidate struct {
	Key
	// Name is the package name as indexed (see NormalizeName).
	Name string
	// Ecosystem is the full ecosystem of the entries ("Debian:12").
	Ecosystem string
	Modified  string
	Withdrawn bool
	entries   []byte
}

// Entries decodes the record's affected entries for the candidate's
// package and ecosystem (package, ranges and versions only).
func (c *Candidate) Entries() ([]Affected, error) {
	out, err := decodeEntries(c.entries, Package{Ecosystem: c.Ecosystem, Name: c.Name})
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", c.ID, err)
	}
	return out, nil
}

// Candidates returns the candidates of every package of names in an
// ecosystem whose base is base (see Base), whatever their release suffix,
// in one query. A record that several sources hold is returned only from
// the source with its latest modified form.
func (d *DB) Candidates(ctx context.Context, base string, names []string) ([]Candidate, error) {
	norm := make([]string, len(names))
	for i, n := range names {
		norm[i] = NormalizeName(base, n)
	}
	arg, err := json.Marshal(norm)
	if err != nil {
		return nil, err
	}
	rows, err := d.candidates.QueryContext(ctx, base, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Candidate
	latest := map[string]Candidate{} // id -> the row with the latest modified form
	for rows.Next() {
		var c Candidate
		if err := rows.Scan(&c.Name, &c.Ecosystem, &c.Source, &c.ID, &c.Modified, &c.Withdrawn, &c.entries); err != nil {
			return nil, err
		}
		if l, ok := latest[c.ID]; !ok || c.Modified > l.Modified || (c.Modified == l.Modified && c.Source < l.Source) {
			latest[c.ID] = c
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, c := range out {
		if latest[c.ID].Source == c.Source {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// Records reads the whole records named by keys, in one query. Keys that
// name no record are left out of the result.
func (d *DB) Records(ctx context.Context, keys []Key) (map[Key]*Record, error) {
	out := make(map[Key]*Record, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pairs := make([][2]string, len(keys))
	for i, k := range keys {
		pairs[i] = [2]string{k.Source, k.ID}
	}
	arg, err := json.Marshal(pairs)
	if err != nil {
		return nil, err
	}
	rows, err := d.records.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var got []Key
	var raw [][]byte
	for rows.Next() {
		var k Key
		var data []byte
		if err := rows.Scan(&k.Source, &k.ID, &data); err != nil {
			return nil, err
		}
		got = append(got, k)
		raw = append(raw, data)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	recs := make([]*Record, len(raw))
	errs := make([]error, len(raw))
	// Decompressing and decoding dominate; records are independent.
	workers := min(runtime.GOMAXPROCS(0), 4, len(raw)/64+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(raw); i += workers {
				recs[i], errs[i] = decodeRecord(raw[i])
			}
		})
	}
	wg.Wait()
	for i, k := range got {
		if errs[i] != nil {
			return nil, fmt.Errorf("record %s: %w", k.ID, errs[i])
		}
		out[k] = recs[i]
	}
	return out, nil
}

// Lookup returns the records that name the package name in an ecosystem
// whose base is base, whatever their release suffix, each once, in its
// latest modified form.
func (d *DB) Lookup(ctx context.Context, base, name string) ([]*Record, error) {
	cs, err := d.Candidates(ctx, base, []string{name})
	if err != nil {
		return nil, err
	}
	var keys []Key
	seen := map[Key]bool{}
	for _, c := range cs {
		if !seen[c.Key] {
			seen[c.Key] = true
			keys = append(keys, c.Key)
		}
	}
	recs, err := d.Records(ctx, keys)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, k := range keys {
		if r, ok := recs[k]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// EcosystemInfo says how much advisory data the database holds for one
// exact ecosystem ("Debian:12", "npm").
type EcosystemInfo struct {
	Ecosystem string `json:"ecosystem"`
	// Records counts the records that are not withdrawn and name a
	// package of the ecosystem.
	Records int `json:"records"`
	// Modified is the newest "modified" of those records ("" when none
	// has one); FetchedAt the newest fetch time of the sources holding them.
	Modified  string    `json:"modified,omitempty"`
	FetchedAt time.Time `json:"fetched_at"`
}

// Ecosystems lists the exact ecosystems the database holds records for,
// sorted by name. The summary is computed when the database is built and
// read once per DB.
func (d *DB) Ecosystems(ctx context.Context) ([]EcosystemInfo, error) {
	d.ecoMu.Lock()
	defer d.ecoMu.Unlock()
	if d.ecos != nil {
		return d.ecos, nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT ecosystem, records, modified, fetched_at FROM ecosystems ORDER BY ecosystem`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ecos := []EcosystemInfo{}
	for rows.Next() {
		var e EcosystemInfo
		var at string
		if err := rows.Scan(&e.Ecosystem, &e.Records, &e.Modified, &at); err != nil {
			return nil, err
		}
		e.FetchedAt, _ = time.Parse(time.RFC3339, at)
		ecos = append(ecos, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	d.ecos = ecos
	return ecos, nil
}

// ByID returns, for each of ids, the records known by it: its id, one of
// its aliases or one of its upstream ids, whatever their affected packages.
// This is how records that name no package (osv.dev's CVE records, kept for
// their CVSS vectors) and the other advisories of one CVE are found. A
// record several sources hold is returned once, in its latest modified
// form. Ids no record is known by are left out.
func (d *DB) ByID(ctx context.Context, ids []string) (map[string][]*Record, error) {
	out := map[string][]*Record{}
	if len(ids) == 0 {
		return out, nil
	}
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := d.byID.QueryContext(ctx, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type row struct {
		source, modified string
		data             []byte
	}
	type key struct{ asked, id string }
	latest := map[key]row{}
	var order []key
	for rows.Next() {
		var k key
		var r row
		if err := rows.Scan(&k.asked, &r.source, &k.id, &r.modified, &r.data); err != nil {
			return nil, err
		}
		l, ok := latest[k]
		if !ok {
			order = append(order, k)
		}
		if !ok || r.modified > l.modified || (r.modified == l.modified && r.source < l.source) {
			latest[k] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].asked != order[j].asked {
			return order[i].asked < order[j].asked
		}
		return order[i].id < order[j].id
	})
	for _, k := range order {
		rec, err := decodeRecord(latest[k].data)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", k.id, err)
		}
		out[k.asked] = append(out[k.asked], rec)
	}
	return out, nil
}

// Source describes where a part of the database came from.
type Source struct {
	Name      string    `json:"name"`
	Origin    string    `json:"origin"`
	FetchedAt time.Time `json:"fetched_at"`
	Records   int       `json:"records"`
}

// Status summarizes a database.
type Status struct {
	Path    string   `json:"path,omitempty"`
	Size    int64    `json:"size,omitempty"`
	Records int      `json:"records"`
	Sources []Source `json:"sources"`
	// Ecosystems lists the exact ecosystems records name, with their counts.
	Ecosystems []EcosystemInfo `json:"ecosystems"`
	// Generation changes whenever records change (see DB.Generation).
	Generation int64 `json:"generation"`
}

// Oldest is the fetch time of the least recently fetched source (zero when
// there is none).
func (s *Status) Oldest() time.Time {
	var t time.Time
	for _, src := range s.Sources {
		if t.IsZero() || src.FetchedAt.Before(t) {
			t = src.FetchedAt
		}
	}
	return t
}

// Status reports the sources, record counts and size of the database.
func (d *DB) Status(ctx context.Context) (*Status, error) {
	st, err := d.Fingerprint(ctx)
	if err != nil {
		return nil, err
	}
	if d.path != "" {
		if fi, err := os.Stat(d.path); err == nil {
			st.Size = fi.Size()
		}
	}
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT id) FROM records`).Scan(&st.Records); err != nil {
		return nil, err
	}
	return st, nil
}

// Fingerprint is the part of Status that tells one content of the database
// from another, read in well under a millisecond: its path, its sources
// (fetch times and record counts), the per-ecosystem summary and the
// generation, which moves on with every change of records. It leaves out
// the file size and the distinct record count (a scan of the records
// index, milliseconds on a large database), which say nothing more.
func (d *DB) Fingerprint(ctx context.Context) (*Status, error) {
	st := &Status{Path: d.path}
	srcs, err := readSources(ctx, d.db)
	if err != nil {
		return nil, err
	}
	st.Sources = srcs
	if st.Ecosystems, err = d.Ecosystems(ctx); err != nil {
		return nil, err
	}
	if st.Generation, err = d.Generation(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

func readSources(ctx context.Context, db *sql.DB) ([]Source, error) {
	rows, err := db.QueryContext(ctx, `SELECT source, origin, fetched_at, records FROM sources ORDER BY source`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Source
	for rows.Next() {
		var s Source
		var at string
		if err := rows.Scan(&s.Name, &s.Origin, &at, &s.Records); err != nil {
			return nil, err
		}
		s.FetchedAt, _ = time.Parse(time.RFC3339, at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// eachRecord calls fn with every stored record of every source, as stored
// (compact JSON).
func (d *DB) eachRecord(ctx context.Context, fn func(source, id string, data []byte) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT source, id, data FROM records ORDER BY source, id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var source, id string
		var data []byte
		if err := rows.Scan(&source, &id, &data); err != nil {
			return err
		}
		raw, err := inflate(data)
		if err != nil {
			return fmt.Errorf("record %s: %w", id, err)
		}
		if err := fn(source, id, raw); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Flate state is large; pooling it keeps import and lookup from
// allocating it per record.
var (
	writers = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	readers = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
	buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// encodeRecord returns the stored form of r and the hash of its content.
func encodeRecord(r *Record) ([]byte, []byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	zw := writers.Get().(*flate.Writer)
	defer writers.Put(zw)
	zw.Reset(&buf)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(raw)
	return buf.Bytes(), sum[:], nil
}

func inflate(data []byte) ([]byte, error) {
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	if err := inflateTo(buf, data); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// inflateTo decompresses a stored record into buf, bounded by
// MaxRecordBytes.
func inflateTo(buf *bytes.Buffer, data []byte) error {
	zr := readers.Get().(io.ReadCloser)
	defer readers.Put(zr)
	if err := zr.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
		return err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(zr, MaxRecordBytes+1)); err != nil {
		return err
	}
	if buf.Len() > MaxRecordBytes {
		return errors.New("stored record larger than the record limit")
	}
	return nil
}

func decodeRecord(data []byte) (*Record, error) {
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	if err := inflateTo(buf, data); err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Builder writes records into a database under construction.
type Builder struct {
	db     *sql.DB
	tx     *sql.Tx
	insRec *sql.Stmt
	insAff *sql.Stmt
	// insKnown indexes a record under its aliases and upstream ids (the
	// records table is indexed by id).
	insKnown *sql.Stmt
	counts   map[string]int
	seen     map[string]map[string]bool
	// log records what this Builder changes, for DB.ChangedSince.
	log *changeLog
	// Skipped counts the files that held no valid OSV record; SkippedFiles
	// names the first MaxSkipReasons of them with the reason.
	Skipped      int
	SkippedFiles []SkippedFile
	// Ignored counts the files of imported directories that are not
	// .json, .yaml, .yml or .zip files.
	Ignored int
}

// SkippedFile is a file that held no valid OSV record, and why.
type SkippedFile struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// MaxSkipReasons bounds Builder.SkippedFiles.
const MaxSkipReasons = 10

// skip records that the file name was not imported.
func (b *Builder) skip(name, reason string) {
	b.Skipped++
	if len(b.SkippedFiles) < MaxSkipReasons {
		b.SkippedFiles = append(b.SkippedFiles, SkippedFile{Name: name, Reason: reason})
	}
}

// SkipSummary describes the skipped files in one line: how many, and the
// reasons of the first few ("" when none was skipped).
func (b *Builder) SkipSummary() string {
	if b.Skipped == 0 {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "skipped %d file", b.Skipped)
	if b.Skipped != 1 {
		sb.WriteString("s")
	}
	for i, f := range b.SkippedFiles {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(f.Name + ": " + f.Reason)
	}
	if b.Skipped > len(b.SkippedFiles) {
		fmt.Fprintf(&sb, "; and %d more", b.Skipped-len(b.SkippedFiles))
	}
	return sb.String()
}

// Records is the number of distinct records stored under source by this
// Builder.
func (b *Builder) Records(source string) int { return b.counts[source] }

func newBuilder(ctx context.Context, db *sql.DB) (*Builder, error) {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?)`, schemaVersion); err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	b := &Builder{db: db, tx: tx, counts: map[string]int{}, seen: map[string]map[string]bool{}}
	if b.log, err = openChangeLog(ctx, tx); err != nil {
		tx.Rollback()
		return nil, err
	}
	if b.insRec, err = tx.PrepareContext(ctx, `INSERT OR REPLACE INTO records(source, id, modified, data, hash) VALUES(?, ?, ?, ?, ?)`); err != nil {
		tx.Rollback()
		return nil, err
	}
	if b.insAff, err = tx.PrepareContext(ctx, `INSERT INTO affected(base, name, ecosystem, source, id, modified, withdrawn, entries) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		tx.Rollback()
		return nil, err
	}
	if b.insKnown, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO known(id, rid) VALUES(?, ?)`); err != nil {
		tx.Rollback()
		return nil, err
	}
	return b, nil
}

// Begin removes every record of source, so that it can be filled anew.
func (b *Builder) Begin(ctx context.Context, source string) error {
	if err := b.log.track(ctx, b.tx, source); err != nil {
		return err
	}
	for _, q := range []string{`DELETE FROM records WHERE source = ?`, `DELETE FROM affected WHERE source = ?`, `DELETE FROM sources WHERE source = ?`} {
		if _, err := b.tx.ExecContext(ctx, q, source); err != nil {
			return err
		}
	}
	b.counts[source] = 0
	b.seen[source] = map[string]bool{}
	return nil
}

// Add stores r as part of source. Withdrawn records are stored too (the
// matcher skips them) so that status counts match the source.
func (b *Builder) Add(ctx context.Context, source string, r *Record) error {
	data, hash, err := encodeRecord(r)
	if err != nil {
		return err
	}
	seen := b.seen[source]
	if seen == nil {
		if err := b.log.track(ctx, b.tx, source); err != nil {
			return err
		}
		seen = map[string]bool{}
		b.seen[source] = seen
	}
	if seen[r.ID] {
		if _, err := b.tx.ExecContext(ctx, `DELETE FROM affected WHERE source = ? AND id = ?`, source, r.ID); err != nil {
			return err
		}
	} else {
		seen[r.ID] = true
		b.counts[source]++
	}
	if _, err := b.insRec.ExecContext(ctx, source, r.ID, r.Modified, data, hash); err != nil {
		return err
	}
	for _, names := range [][]string{r.Aliases, r.Upstream} {
		for _, n := range names {
			if n = strings.TrimSpace(n); n == "" || n == r.ID {
				continue
			}
			if _, err := b.insKnown.ExecContext(ctx, n, r.ID); err != nil {
				return err
			}
		}
	}
	type pkgKey struct{ base, name, ecosystem string }
	var order []pkgKey
	entries := map[pkgKey][]Affected{}
	for _, a := range r.Affected {
		base := Base(a.Package.Ecosystem)
		k := pkgKey{base, NormalizeName(base, a.Package.Name), a.Package.Ecosystem}
		if base == "" || k.name == "" {
			continue
		}
		if _, ok := entries[k]; !ok {
			order = append(order, k)
		}
		entries[k] = append(entries[k], Affected{Package: a.Package, Ranges: a.Ranges, Versions: a.Versions})
	}
	for _, k := range order {
		if _, err := b.insAff.ExecContext(ctx, k.base, k.name, k.ecosystem, source, r.ID, r.Modified, r.Withdrawn != "", encodeEntries(entries[k])); err != nil {
			return err
		}
	}
	return nil
}

// End records where source came from and when.
func (b *Builder) End(ctx context.Context, source, origin string, fetched time.Time) error {
	_, err := b.tx.ExecContext(ctx, `INSERT OR REPLACE INTO sources(source, origin, fetched_at, records) VALUES(?, ?, ?, ?)`,
		source, origin, fetched.UTC().Format(time.RFC3339), b.counts[source])
	delete(b.seen, source)
	return err
}

// commit summarizes the ecosystems (see DB.Ecosystems), logs what changed
// under a new generation (see DB.ChangedSince) and commits.
func (b *Builder) commit(ctx context.Context) error {
	b.insRec.Close()
	b.insAff.Close()
	b.insKnown.Close()
	// Names of records no source holds any more.
	if _, err := b.tx.ExecContext(ctx, `DELETE FROM known WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.id = known.rid)`); err != nil {
		b.tx.Rollback()
		return err
	}
	if _, err := b.tx.ExecContext(ctx, `DELETE FROM ecosystems`); err != nil {
		b.tx.Rollback()
		return err
	}
	if _, err := b.tx.ExecContext(ctx, `INSERT INTO ecosystems(ecosystem, records, modified, fetched_at)
		SELECT a.ecosystem, COUNT(DISTINCT a.id), MAX(a.modified), COALESCE(MAX(s.fetched_at), '')
		FROM affected a LEFT JOIN sources s ON s.source = a.source
		WHERE a.withdrawn = 0 GROUP BY a.ecosystem`); err != nil {
		b.tx.Rollback()
		return err
	}
	if err := b.log.commit(ctx, b.tx); err != nil {
		b.tx.Rollback()
		return err
	}
	return b.tx.Commit()
}

func (b *Builder) rollback() {
	b.insRec.Close()
	b.insAff.Close()
	b.insKnown.Close()
	b.tx.Rollback()
}

// Apply changes the database in dir: fn fills a Builder working on a copy
// of the current database (or a new one), and the copy replaces the
// database only when fn and the commit succeed. A failed or interrupted
// Apply leaves the previous database as it was.
func Apply(ctx context.Context, dir string, fn func(*Builder) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	final := filepath.Join(dir, FileName)
	tmp, err := os.CreateTemp(dir, FileName+".new-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmpName)
			os.Remove(tmpName + "-journal")
		}
	}()
	if err := copyCurrent(final, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+tmpName+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	b, err := newBuilder(ctx, db)
	if err != nil {
		return fmt.Errorf("%s: %w", tmpName, err)
	}
	if err := fn(b); err != nil {
		b.rollback()
		return err
	}
	if err := b.commit(ctx); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if f, err := os.Open(tmpName); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmpName, final); err != nil {
		return err
	}
	keep = true
	return nil
}

// copyCurrent copies the existing database into w when there is one with
// the current schema; otherwise w stays empty and a new database is built.
func copyCurrent(final string, w io.Writer) error {
	d, err := Open(filepath.Dir(final))
	if err != nil {
		if errors.Is(err, ErrNoDatabase) {
			return nil
		}
		return nil // an unreadable or old database is rebuilt from scratch
	}
	d.Close()
	f, err := os.Open(final)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// openMemory builds an in-memory database holding recs under source.
func openMemory(ctx context.Context, source, origin string, recs []*Record) (*DB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	b, err := newBuilder(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	if err := b.Begin(ctx, source); err != nil {
		b.rollback()
		db.Close()
		return nil, err
	}
	for _, r := range recs {
		if err := b.Add(ctx, source, r); err != nil {
			b.rollback()
			db.Close()
			return nil, err
		}
	}
	// The same records make the same database: fetched when the newest
	// of them was modified, with a generation named after that time, so
	// results cached against it stay valid from one run to the next.
	at := newestModified(recs)
	if err := b.End(ctx, source, origin, at); err != nil {
		b.rollback()
		db.Close()
		return nil, err
	}
	if err := b.commit(ctx); err != nil {
		db.Close()
		return nil, err
	}
	gen := strconv.FormatInt(at.UnixMilli(), 10)
	if _, err := db.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2), (?3, ?2)`, metaGeneration, gen, metaLogSince); err != nil {
		db.Close()
		return nil, err
	}
	d, err := newDB(db, "")
	if err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// newestModified is the latest "modified" time of recs, or the Unix epoch
// when none has one.
func newestModified(recs []*Record) time.Time {
	at := time.Unix(0, 0).UTC()
	for _, r := range recs {
		if t, err := time.Parse(time.RFC3339, r.Modified); err == nil && t.After(at) {
			at = t.UTC()
		}
	}
	return at
}
