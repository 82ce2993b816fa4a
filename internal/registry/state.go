package registry

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
)

// StateFile is the name of the scan-state database in ScanOptions.StateDir.
const StateFile = "state.db"

// maxState bounds a stored image result.
const maxState = 32 << 20

// stateStore keeps each finished image's result, keyed by the database
// version and the image digest, so that a rerun (or a concurrent run)
// skips it. It is a SQLite database like the tag store.
type stateStore struct{ db *sql.DB }

const stateSchema = `CREATE TABLE IF NOT EXISTS results (
	key    TEXT PRIMARY KEY,
	result BLOB NOT NULL
)`

// openState opens (or creates) the scan state in dir.
func openState(dir string) (*stateStore, error) {
	db, err := openDB(filepath.Join(dir, StateFile), stateSchema)
	if err != nil {
		return nil, fmt.Errorf("scan state: %w", err)
	}
	return &stateStore{db: db}, nil
}

func (s *stateStore) Close() error { return s.db.Close() }

func stateKey(dbVersion, digest string) string {
	h := sha256.Sum256([]byte(dbVersion + "\n" + digest))
	return hex.EncodeToString(h[:])
}

// load returns the stored result of a successful scan of digest.
func (s *stateStore) load(dbVersion, digest string) (ImageResult, bool) {
	var b []byte
	err := s.db.QueryRow(`SELECT result FROM results WHERE key = ?`, stateKey(dbVersion, digest)).Scan(&b)
	if err != nil || len(b) > maxState {
		return ImageResult{}, false
	}
	var r ImageResult
	if json.Unmarshal(b, &r) != nil || r.Error != "" || r.Digest != digest {
		return ImageResult{}, false
	}
	return r, true
}

// save stores a successful scan's result. A state that cannot be written
// only costs a rescan, so the error is for tests and callers that care.
func (s *stateStore) save(dbVersion string, r ImageResult) error {
	r.Refs, r.Summary = nil, nil
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(b) > maxState {
		return errors.New("image result too large to keep")
	}
	return inTx(s.db, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT OR REPLACE INTO results (key, result) VALUES (?, ?)`, stateKey(dbVersion, r.Digest), b)
		return err
	})
}
