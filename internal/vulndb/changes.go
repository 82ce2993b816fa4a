package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// LogGenerations is how many generations the change log keeps: a caller
// whose last seen generation is older than the last LogGenerations
// changes cannot be told what changed, and must re-match everything. With
// one `customs db update` a day, that is a month.
const LogGenerations = 32

// PackageKey names a package as the database indexes it: the ecosystem
// base ("Debian", "npm", see Base) and the name in the form NormalizeName
// gives. A record is indexed under the key of every package it names, in
// every release of the ecosystem.
type PackageKey struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

// Changes is what changed in the database after some generation.
type Changes struct {
	// Generation is the database's generation the changes lead to.
	Generation int64
	// IDs are the ids of the records added, modified (their content
	// changed, withdrawal included) or removed, sorted.
	IDs []string
	// Keys are the packages those records named before or after the
	// change, sorted: a record whose affected package changed names both.
	Keys []PackageKey
}

// Meta keys of the change log. generation is the database's current
// generation; logSince the oldest generation from which the log holds
// every later change.
const (
	metaGeneration = "generation"
	metaLogSince   = "log_since"
)

// Generation returns the database's generation. Every Import, Update or
// Apply that adds, modifies or removes a record increases it by one, and it
// is carried from the previous database into the one swapped in; one that
// changes no record (the same export fetched again) keeps it, and logs
// nothing. A new database (none before, or one of an older schema that is
// rebuilt) starts a new line of generations at the current time in Unix
// milliseconds, so that it is above every generation of a database it
// replaced, and the change log of a replaced database never seems to
// apply to it. A DB reads one database file: after an update, open the
// directory again to see the new generation.
func (d *DB) Generation(ctx context.Context) (int64, error) {
	g, _, err := readMetaInt(ctx, d.db, metaGeneration)
	return g, err
}

// ChangedSince returns what changed after generation gen: the records
// added, modified or removed in the later generations, and the packages
// they name. ok is false when the log cannot tell: gen is older than the
// log reaches (LogGenerations), or is no generation of this database's
// line (above the current one, or from a database that was replaced); the
// caller must then re-match everything. When gen is the current
// generation the changes are empty.
func (d *DB) ChangedSince(ctx context.Context, gen int64) (Changes, bool, error) {
	cur, _, err := readMetaInt(ctx, d.db, metaGeneration)
	if err != nil {
		return Changes{}, false, err
	}
	since, _, err := readMetaInt(ctx, d.db, metaLogSince)
	if err != nil {
		return Changes{}, false, err
	}
	ch := Changes{Generation: cur}
	if gen > cur || gen < since {
		return ch, false, nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT id FROM changed_ids WHERE generation > ? ORDER BY id`, gen)
	if err != nil {
		return ch, false, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return ch, false, err
		}
		ch.IDs = append(ch.IDs, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ch, false, err
	}
	rows, err = d.db.QueryContext(ctx, `SELECT DISTINCT base, name FROM changed_keys WHERE generation > ? ORDER BY base, name`, gen)
	if err != nil {
		return ch, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var k PackageKey
		if err := rows.Scan(&k.Ecosystem, &k.Name); err != nil {
			return ch, false, err
		}
		ch.Keys = append(ch.Keys, k)
	}
	return ch, true, rows.Err()
}

// readMetaInt reads an integer of the meta table; ok is false when it is
// not set.
func readMetaInt(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, key string) (int64, bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("meta %s: %w", key, err)
	}
	return n, true, nil
}

// changeLog follows what a Builder changes: the first time a source is
// touched, its records' hashes and package keys are copied aside; the
// commit compares them with what the source holds then.
type changeLog struct {
	// generation is the database's generation before the Builder; zero
	// for a new database, whose first generation logs nothing.
	generation int64
	since      int64
	tracked    map[string]bool
}

func openChangeLog(ctx context.Context, tx *sql.Tx) (*changeLog, error) {
	l := &changeLog{tracked: map[string]bool{}}
	var err error
	if l.generation, _, err = readMetaInt(ctx, tx, metaGeneration); err != nil {
		return nil, err
	}
	if l.since, _, err = readMetaInt(ctx, tx, metaLogSince); err != nil {
		return nil, err
	}
	if l.generation == 0 {
		return l, nil
	}
	_, err = tx.ExecContext(ctx, `
		CREATE TEMP TABLE IF NOT EXISTS old_records(source TEXT NOT NULL, id TEXT NOT NULL, hash BLOB NOT NULL,
			PRIMARY KEY(source, id)) WITHOUT ROWID;
		CREATE TEMP TABLE IF NOT EXISTS old_keys(source TEXT NOT NULL, id TEXT NOT NULL, base TEXT NOT NULL, name TEXT NOT NULL,
			PRIMARY KEY(source, id, base, name)) WITHOUT ROWID;`)
	return l, err
}

// track copies aside what source holds before the Builder first changes it.
func (l *changeLog) track(ctx context.Context, tx *sql.Tx, source string) error {
	if l.generation == 0 || l.tracked[source] {
		return nil
	}
	l.tracked[source] = true
	if _, err := tx.ExecContext(ctx, `INSERT INTO temp.old_records SELECT source, id, hash FROM main.records WHERE source = ?`, source); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO temp.old_keys SELECT source, id, base, name FROM main.affected WHERE source = ?`, source)
	return err
}

// commit logs the records of the tracked sources that were added, whose
// hash changed, or that are gone, under the next generation, and trims the
// log to LogGenerations. Nothing changed: the generation stays. A new
// database gets its first generation.
func (l *changeLog) commit(ctx context.Context, tx *sql.Tx) error {
	if l.generation == 0 {
		now := time.Now().UnixMilli()
		return setMeta(ctx, tx, now, now)
	}
	if len(l.tracked) == 0 {
		return nil
	}
	sources := make([]string, 0, len(l.tracked))
	for s := range l.tracked {
		sources = append(sources, s)
	}
	arg, err := json.Marshal(sources)
	if err != nil {
		return err
	}
	gen := l.generation + 1
	if _, err := tx.ExecContext(ctx, `
		CREATE TEMP TABLE changed(source TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(source, id)) WITHOUT ROWID;
		INSERT INTO temp.changed SELECT r.source, r.id FROM main.records r
			LEFT JOIN temp.old_records o ON o.source = r.source AND o.id = r.id
			WHERE r.source IN (SELECT value FROM json_each(?1)) AND (o.hash IS NULL OR o.hash <> r.hash);
		INSERT INTO temp.changed SELECT o.source, o.id FROM temp.old_records o
			WHERE NOT EXISTS (SELECT 1 FROM main.records r WHERE r.source = o.source AND r.id = o.id);`, string(arg)); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM temp.changed`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT OR IGNORE INTO changed_ids(generation, id) SELECT ?1, id FROM temp.changed;
		INSERT OR IGNORE INTO changed_keys(generation, base, name)
			SELECT ?1, a.base, a.name FROM temp.changed c JOIN main.affected a ON a.source = c.source AND a.id = c.id;
		INSERT OR IGNORE INTO changed_keys(generation, base, name)
			SELECT ?1, o.base, o.name FROM temp.changed c JOIN temp.old_keys o ON o.source = c.source AND o.id = c.id;
		DELETE FROM changed_ids WHERE generation <= ?2;
		DELETE FROM changed_keys WHERE generation <= ?2;`, gen, gen-LogGenerations); err != nil {
		return err
	}
	return setMeta(ctx, tx, gen, max(l.since, gen-LogGenerations))
}

func setMeta(ctx context.Context, tx *sql.Tx, gen, since int64) error {
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2), (?3, ?4)`,
		metaGeneration, strconv.FormatInt(gen, 10), metaLogSince, strconv.FormatInt(since, 10))
	return err
}
