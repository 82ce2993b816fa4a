// Package store keeps the server's state (images and their references,
// scans and their reports, API tokens, hosts) in one SQL database: an
// embedded SQLite file by default, or PostgreSQL when several processes
// share the work. The same queries serve both; the job queue (River) lives
// in the same database.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Dialect names the database engine behind a Store.
type Dialect string

// Dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// FileName is the embedded database's file under the data directory.
const FileName = "customs.db"

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("not found")

// Store is an open database.
type Store struct {
	// DB runs the store's own queries.
	DB *sql.DB
	// Dialect says which engine DB talks to.
	Dialect Dialect
	// Pool is the PostgreSQL connection pool (nil on SQLite); River's
	// PostgreSQL driver works on it.
	Pool *pgxpool.Pool
	// QueueDB is the single SQLite connection River's SQLite driver works
	// on (nil on PostgreSQL): SQLite has one writer at a time.
	QueueDB *sql.DB
	// Where describes the database for messages, without credentials.
	Where string
}

// IsPostgres reports whether database names a PostgreSQL database.
func IsPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// Open opens the database: database is a postgres:// URL, or empty for the
// embedded SQLite file under dataDir (created when missing). Open does not
// migrate; call Migrate.
func Open(ctx context.Context, database, dataDir string) (*Store, error) {
	if IsPostgres(database) {
		return openPostgres(ctx, database)
	}
	if database != "" {
		return nil, fmt.Errorf("--database %q: want a postgres:// URL, or nothing for the embedded store under --data-dir", database)
	}
	if dataDir == "" {
		return nil, errors.New("no data directory for the embedded store")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	return openSQLite(ctx, filepath.Join(dataDir, FileName))
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	queue, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, err
	}
	queue.SetMaxOpenConns(1)
	return &Store{DB: db, QueueDB: queue, Dialect: SQLite, Where: path}, nil
}

func openPostgres(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--database: %w", err)
	}
	where := fmt.Sprintf("postgres://%s/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Database)
	// Listing filters (LIKE on a parameter, optional conditions) plan
	// badly as generic plans of cached statements: plan each with its
	// values (a fraction of a millisecond).
	if _, set := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !set {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &Store{DB: stdlib.OpenDBFromPool(pool), Pool: pool, Dialect: Postgres, Where: where}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.DB.Close()
	if s.QueueDB != nil {
		err = errors.Join(err, s.QueueDB.Close())
	}
	if s.Pool != nil {
		s.Pool.Close()
	}
	return err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.DB.PingContext(ctx) }

// Q rewrites a query written with ? placeholders for the store's dialect
// ($1, $2, ... on PostgreSQL). Queries hold no literal question marks.
func (s *Store) Q(query string) string {
	if s.Dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Exec runs a statement written with ? placeholders.
func (s *Store) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.DB.ExecContext(ctx, s.Q(query), args...)
}

// Query runs a query written with ? placeholders.
func (s *Store) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.DB.QueryContext(ctx, s.Q(query), args...)
}

// QueryRow runs a one-row query written with ? placeholders.
func (s *Store) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.DB.QueryRowContext(ctx, s.Q(query), args...)
}

// Tx is a transaction whose statements use ? placeholders.
type Tx struct {
	*sql.Tx
	s *Store
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.s.Q(query), args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.s.Q(query), args...)
}

// QueryRow runs a one-row query in the transaction.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.s.Q(query), args...)
}

// InTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&Tx{Tx: tx, s: s}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Millis is t in Unix milliseconds, the store's time format (0 for the
// zero time).
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time is the time of Unix milliseconds ms (the zero time for 0).
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// now is the store's clock.
func now() time.Time { return time.Now().UTC() }
