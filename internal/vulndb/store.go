package vulndb

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// FileName is the database file inside a database directory.
const FileName = "vuln.db"

// schemaVersion changes when the tables change; older files are rebuilt.
const schemaVersion = "1"

const schema = `
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
	source TEXT PRIMARY KEY, origin TEXT NOT NULL, fetched_at TEXT NOT NULL, records INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records(
	source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, data BLOB NOT NULL,
	PRIMARY KEY(source, id));
CREATE TABLE IF NOT EXISTS affected(
	base TEXT NOT NULL, name TEXT NOT NULL, ecosystem TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected(base, name);
CREATE INDEX IF NOT EXISTS affected_source ON affected(source, id);
`

// ErrNoDatabase is returned by Open when the directory holds no database.
var ErrNoDatabase = errors.New("no vulnerability database")

// DB is an open, read-only vulnerability database. It is safe for
// concurrent use.
type DB struct {
	db     *sql.DB
	lookup *sql.Stmt
	path   string
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
	db, err := sql.Open("sqlite", "file:"+p+"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)")
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
	st, err := db.Prepare(`SELECT r.id, r.modified, r.data FROM affected a JOIN records r ON r.source = a.source AND r.id = a.id WHERE a.base = ? AND a.name = ?`)
	if err != nil {
		return nil, err
	}
	return &DB{db: db, lookup: st, path: p}, nil
}

// Close releases the database.
func (d *DB) Close() error {
	d.lookup.Close()
	return d.db.Close()
}

// Path is the database file ("" for an in-memory database).
func (d *DB) Path() string { return d.path }

// Lookup returns the records that name the package name in an ecosystem
// whose base is base (see Base), whatever their release suffix. A record
// held by several sources is returned once, in its latest modified form.
func (d *DB) Lookup(ctx context.Context, base, name string) ([]*Record, error) {
	rows, err := d.lookup.QueryContext(ctx, base, NormalizeName(base, name))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := map[string]string{}
	var out []*Record
	idx := map[string]int{}
	for rows.Next() {
		var id, modified string
		var data []byte
		if err := rows.Scan(&id, &modified, &data); err != nil {
			return nil, err
		}
		if m, ok := byID[id]; ok && m >= modified {
			continue
		}
		r, err := decodeRecord(data)
		if err != nil {
			return nil, fmt.Errorf("record %s: %w", id, err)
		}
		byID[id] = modified
		if i, ok := idx[id]; ok {
			out[i] = r
			continue
		}
		idx[id] = len(out)
		out = append(out, r)
	}
	return out, rows.Err()
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
	st := &Status{Path: d.path}
	if d.path != "" {
		if fi, err := os.Stat(d.path); err == nil {
			st.Size = fi.Size()
		}
	}
	srcs, err := readSources(ctx, d.db)
	if err != nil {
		return nil, err
	}
	st.Sources = srcs
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT id) FROM records`).Scan(&st.Records); err != nil {
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
)

func encodeRecord(r *Record) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := writers.Get().(*flate.Writer)
	defer writers.Put(zw)
	zw.Reset(&buf)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func inflate(data []byte) ([]byte, error) {
	zr := readers.Get().(io.ReadCloser)
	defer readers.Put(zr)
	if err := zr.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxRecordBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxRecordBytes {
		return nil, errors.New("stored record larger than the record limit")
	}
	return raw, nil
}

func decodeRecord(data []byte) (*Record, error) {
	raw, err := inflate(data)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Builder writes records into a database under construction.
type Builder struct {
	db      *sql.DB
	tx      *sql.Tx
	insRec  *sql.Stmt
	insAff  *sql.Stmt
	counts  map[string]int
	seen    map[string]map[string]bool
	Skipped int
}

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
	if b.insRec, err = tx.PrepareContext(ctx, `INSERT OR REPLACE INTO records(source, id, modified, data) VALUES(?, ?, ?, ?)`); err != nil {
		tx.Rollback()
		return nil, err
	}
	if b.insAff, err = tx.PrepareContext(ctx, `INSERT INTO affected(base, name, ecosystem, source, id) VALUES(?, ?, ?, ?, ?)`); err != nil {
		tx.Rollback()
		return nil, err
	}
	return b, nil
}

// Begin removes every record of source, so that it can be filled anew.
func (b *Builder) Begin(ctx context.Context, source string) error {
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
	data, err := encodeRecord(r)
	if err != nil {
		return err
	}
	seen := b.seen[source]
	if seen == nil {
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
	if _, err := b.insRec.ExecContext(ctx, source, r.ID, r.Modified, data); err != nil {
		return err
	}
	done := map[[3]string]bool{}
	for _, a := range r.Affected {
		base := Base(a.Package.Ecosystem)
		name := NormalizeName(base, a.Package.Name)
		k := [3]string{base, name, a.Package.Ecosystem}
		if base == "" || name == "" || done[k] {
			continue
		}
		done[k] = true
		if _, err := b.insAff.ExecContext(ctx, base, name, a.Package.Ecosystem, source, r.ID); err != nil {
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

func (b *Builder) commit() error {
	b.insRec.Close()
	b.insAff.Close()
	return b.tx.Commit()
}

func (b *Builder) rollback() {
	b.insRec.Close()
	b.insAff.Close()
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
	if err := b.commit(); err != nil {
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
	if err := b.End(ctx, source, origin, time.Now()); err != nil {
		b.rollback()
		db.Close()
		return nil, err
	}
	if err := b.commit(); err != nil {
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
