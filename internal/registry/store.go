package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/customs-scanner/customs/internal/cache"
)

// The tag history and the scan state are SQLite databases in write-ahead
// log mode, so that several customs processes can read and write the same
// file at once: a writer waits for another (busy_timeout) instead of
// failing, and every observation is one transaction, so none is lost.

// busyTimeout is how long a writer waits for another process's write.
const busyTimeout = 30 * time.Second

// openDB opens (creating) the SQLite database at path with schema. The
// directory is created private to the user (see cache.EnsureDir).
func openDB(path, schema string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := cache.EnsureDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	if err := notJSON(abs); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate") // every transaction takes the write lock first: no upgrade deadlock
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s is not a customs registry database: %w", path, err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// notJSON refuses a JSON file where the database should be: the tag store
// of an older customs, passed by mistake.
func notJSON(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 1)
	if n, _ := f.Read(head); n == 1 && (head[0] == '{' || head[0] == '[') {
		return fmt.Errorf("%s is a JSON file, not a customs registry database (tags.json of an older customs is imported from the database's directory)", path)
	}
	return nil
}

// inTx runs fn in one immediate transaction.
func inTx(db *sql.DB, fn func(tx *sql.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
