package registry

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/customs-scanner/customs/internal/model"
)

// maxDriftFile bounds the JSON tag store of older versions, imported once.
const maxDriftFile = 64 << 20

// TagRecord is what the drift store remembers of one tag.
type TagRecord struct {
	Digest    string    `json:"digest"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// DriftStore remembers, per registry, repository and tag, the digest the
// tag pointed to and when that was first seen. It is a SQLite database
// (see openDB): one store is safe for concurrent use, and several stores
// or processes may share the file; each observation is one transaction.
type DriftStore struct {
	db  *sql.DB
	now func() time.Time
}

const driftSchema = `CREATE TABLE IF NOT EXISTS tags (
	ref        TEXT PRIMARY KEY,
	digest     TEXT NOT NULL,
	first_seen TEXT NOT NULL,
	last_seen  TEXT NOT NULL
)`

// OpenDriftStore opens (or creates) the store at path, usually
// CACHE_DIR/registry.db. A tags.json left by an older customs in the same
// directory is imported once (and renamed tags.json.imported).
func OpenDriftStore(path string) (*DriftStore, error) {
	db, err := openDB(path, driftSchema)
	if err != nil {
		return nil, fmt.Errorf("tag store: %w", err)
	}
	s := &DriftStore{db: db, now: time.Now}
	legacy := filepath.Join(filepath.Dir(path), "tags.json")
	if filepath.Clean(path) == legacy {
		legacy = "" // the database itself was given that name
	}
	if err := s.importJSON(legacy); err != nil {
		db.Close()
		return nil, fmt.Errorf("tag store: %w", err)
	}
	return s, nil
}

// Close releases the database.
func (s *DriftStore) Close() error { return s.db.Close() }

// importJSON adds the records of an older JSON tag store to the database
// (records already there win) and renames the file.
func (s *DriftStore) importJSON(p string) error {
	if p == "" {
		return nil
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Size() > maxDriftFile {
		return fmt.Errorf("%s is larger than %d bytes", p, maxDriftFile)
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // another process imported it meanwhile
	}
	if err != nil {
		return err
	}
	var tags map[string]TagRecord
	if err := json.Unmarshal(b, &tags); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	err = inTx(s.db, func(tx *sql.Tx) error {
		for ref, r := range tags {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO tags (ref, digest, first_seen, last_seen) VALUES (?, ?, ?, ?)`,
				ref, r.Digest, timeText(r.FirstSeen), timeText(r.LastSeen)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.Rename(p, p+".imported"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Observe records that registry/repository:tag (tagRef, e.g.
// "registry.example.com/team/app:1.2") points to digest now. When it
// pointed to another digest before, it returns an integrity finding
// naming the old digest, the new one and when the old one was first
// seen.
func (s *DriftStore) Observe(tagRef, digest string) (*model.Finding, error) {
	now := timeText(s.now())
	var f *model.Finding
	err := inTx(s.db, func(tx *sql.Tx) error {
		f = nil
		old, seen, err := lookup(tx, tagRef)
		if err != nil {
			return err
		}
		if seen && old.Digest == digest {
			_, err = tx.Exec(`UPDATE tags SET last_seen = ? WHERE ref = ?`, now, tagRef)
			return err
		}
		if seen {
			f = driftFinding(tagRef, old, digest)
		}
		_, err = tx.Exec(`INSERT INTO tags (ref, digest, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
			ON CONFLICT (ref) DO UPDATE SET digest = ?2, first_seen = ?3, last_seen = ?3`, tagRef, digest, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tag store: %w", err)
	}
	return f, nil
}

func driftFinding(tagRef string, old TagRecord, digest string) *model.Finding {
	return &model.Finding{Class: model.ClassIntegrity, ID: "integrity-tag-drift", Severity: model.High,
		Title: "Tag " + tagRef + " now points to another image",
		Description: fmt.Sprintf("%s pointed to %s (first seen %s, last seen %s) and now points to %s. If nobody meant to republish the tag, the image may have been replaced; pin images by digest.",
			tagRef, old.Digest, old.FirstSeen.Format(time.RFC3339), old.LastSeen.Format(time.RFC3339), digest),
		Location: tagRef,
		Extra: map[string]string{"old_digest": old.Digest, "new_digest": digest,
			"first_seen": old.FirstSeen.Format(time.RFC3339), "last_seen": old.LastSeen.Format(time.RFC3339)}}
}

// querier is a database or a transaction.
type querier interface {
	QueryRow(query string, args ...any) *sql.Row
}

func lookup(q querier, tagRef string) (TagRecord, bool, error) {
	var r TagRecord
	var first, last string
	err := q.QueryRow(`SELECT digest, first_seen, last_seen FROM tags WHERE ref = ?`, tagRef).Scan(&r.Digest, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return TagRecord{}, false, nil
	}
	if err != nil {
		return TagRecord{}, false, err
	}
	r.FirstSeen, r.LastSeen = parseTime(first), parseTime(last)
	return r, true, nil
}

// Lookup returns what the store remembers of tagRef.
func (s *DriftStore) Lookup(tagRef string) (TagRecord, bool) {
	r, ok, err := lookup(s.db, tagRef)
	if err != nil {
		return TagRecord{}, false
	}
	return r, ok
}
